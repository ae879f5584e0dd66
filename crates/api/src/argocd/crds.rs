//! The CustomResourceDefinitions of Argo CD's kinds, generated from the types: names, short
//! names and columns as Argo CD's own definitions have them.

use serde_json::Value;

use super::{AppProjectSpec, Operation};
use super::{ApplicationSetSpec, ApplicationSetStatus, ApplicationSpec, ApplicationStatus};
use crate::crd::{Definition, PrinterColumn, schema_of};

/// The CRDs of `Application`, `ApplicationSet` and `AppProject`, in that order.
pub fn crds() -> Vec<Value> {
    let definition = |kind, plural, short_names| Definition {
        group: super::GROUP,
        version: super::VERSION,
        kind,
        plural,
        short_names,
        categories: &[],
        namespaced: true,
        printer_columns: Vec::new(),
        status_subresource: false,
        fields: Vec::new(),
        required: &["metadata", "spec"],
    };
    let application = Definition {
        printer_columns: vec![
            PrinterColumn::new("Sync Status", "string", ".status.sync.status"),
            PrinterColumn::new("Health Status", "string", ".status.health.status"),
            PrinterColumn::new("Revision", "string", ".status.sync.revision").wide(),
            PrinterColumn::new("Project", "string", ".spec.project").wide(),
        ],
        fields: vec![
            ("spec", schema_of::<ApplicationSpec>()),
            ("status", schema_of::<ApplicationStatus>()),
            ("operation", schema_of::<Operation>()),
        ],
        ..definition("Application", "applications", &["app", "apps"])
    };
    let application_set = Definition {
        status_subresource: true,
        fields: vec![
            ("spec", schema_of::<ApplicationSetSpec>()),
            ("status", schema_of::<ApplicationSetStatus>()),
        ],
        ..definition("ApplicationSet", "applicationsets", &["appset", "appsets"])
    };
    let project = Definition {
        fields: vec![
            ("spec", schema_of::<AppProjectSpec>()),
            (
                "status",
                serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            ),
        ],
        ..definition("AppProject", "appprojects", &["appproj", "appprojs"])
    };
    [application, application_set, project]
        .iter()
        .map(|d| d.to_crd("argocd"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// `manifests/crds/<name>.yaml`, where `ferry install crds` prints the same text from.
    fn file_of(crd: &Value) -> PathBuf {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../manifests/crds")
            .join(format!("{name}.yaml"))
    }

    #[test]
    fn the_generated_files_are_current() {
        let write = std::env::var_os("FERRY_WRITE_CRDS").is_some();
        for crd in crds() {
            let path = file_of(&crd);
            let text = crate::yaml::to_string(&crd);
            if write {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "{} is stale: run `FERRY_WRITE_CRDS=1 cargo test -p ferry-api crds` and commit it",
                path.display()
            );
        }
    }

    #[test]
    fn names_and_columns_are_argo_cds() {
        let crds = crds();
        let names: Vec<_> = crds.iter().map(|c| c["metadata"]["name"].clone()).collect();
        assert_eq!(
            names,
            [
                "applications.argoproj.io",
                "applicationsets.argoproj.io",
                "appprojects.argoproj.io"
            ]
        );
        assert_eq!(
            crds[0]["spec"]["names"]["shortNames"],
            serde_json::json!(["app", "apps"])
        );
        let version = &crds[0]["spec"]["versions"][0];
        assert_eq!(
            version["additionalPrinterColumns"][0]["jsonPath"],
            ".status.sync.status"
        );
        assert!(
            version.get("subresources").is_none(),
            "Argo CD writes Application status directly"
        );
        assert_eq!(
            crds[1]["spec"]["versions"][0]["subresources"],
            serde_json::json!({"status": {}})
        );
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let helm = &spec["properties"]["source"]["properties"]["helm"]["properties"];
        assert_eq!(
            helm["valuesObject"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
    }
}
