//! CustomResourceDefinitions as objects with side effects: storing one serves its types,
//! deleting one stops serving them and deletes its custom objects, and start-up serves every
//! stored one.

use ferry_store::{Store, StoredObject};

use super::Objects;
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;

impl Objects {
    /// Side effects of a stored write: CRDs register their types.
    pub(super) fn after_write(&self, t: &ResourceType, stored: &StoredObject) -> ApiResult<()> {
        if t.is("apiextensions.k8s.io", "customresourcedefinitions") {
            let crd = stored
                .json()
                .map_err(|e| ApiError::internal(e.to_string()))?;
            if let Err(e) = self.resources.register_crd(&crd) {
                tracing::warn!(crd = %stored.key.name, "CRD not served: {e}");
            }
        }
        Ok(())
    }

    pub(super) fn after_delete(&self, t: &ResourceType, gone: &StoredObject) {
        if t.is("apiextensions.k8s.io", "customresourcedefinitions") {
            self.resources.unregister_crd(&gone.key.name);
            let resource = gone.key.name.clone();
            // The custom objects go with their definition.
            let store = self.store.clone();
            std::thread::spawn(move || delete_all_of(&store, &resource));
        }
    }

    /// Registers every stored CRD; called once at start-up.
    pub fn load_crds(&self) -> ApiResult<()> {
        let page = self
            .store
            .list(
                "customresourcedefinitions.apiextensions.k8s.io",
                None,
                None,
                None,
            )
            .map_err(|e| ApiError::internal(e.to_string()))?;
        for item in page.items {
            let crd = item.json().map_err(|e| ApiError::internal(e.to_string()))?;
            if let Err(e) = self.resources.register_crd(&crd) {
                tracing::warn!(crd = %item.key.name, "CRD not served: {e}");
            }
        }
        Ok(())
    }
}

fn delete_all_of(store: &Store, resource: &str) {
    loop {
        let Ok(page) = store.list(resource, None, None, Some(500)) else {
            return;
        };
        if page.items.is_empty() {
            return;
        }
        for item in page.items {
            let _ = store.delete(&item.key, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::objects::WriteOptions;
    use crate::resources::Resources;

    fn crd() -> serde_json::Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
            },
        })
    }

    #[test]
    fn stored_definitions_are_served_again_at_start_up() {
        let store = Store::memory();
        let first = Objects::new(store.clone(), Resources::new());
        let crds = first
            .resources
            .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .unwrap();
        first
            .create(&crds, "", crd(), &WriteOptions::manager("test"))
            .unwrap();
        assert!(
            first
                .resources
                .lookup("example.com", "v1", "widgets")
                .is_some()
        );

        let restarted = Objects::new(store, Resources::new());
        assert!(
            restarted
                .resources
                .lookup("example.com", "v1", "widgets")
                .is_none()
        );
        restarted.load_crds().unwrap();
        assert!(
            restarted
                .resources
                .lookup("example.com", "v1", "widgets")
                .is_some()
        );
    }
}
