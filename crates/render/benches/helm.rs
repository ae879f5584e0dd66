//! Ferry's Helm renderer against `helm template` alone, side by side in one run, on a
//! realistic chart (helpers, Deployment, Service, ConfigMap, ServiceAccount, Ingress, HPA)
//! with a value file and `--set` parameters:
//!
//! - `helm template` as a whole process, what Argo CD's repo-server runs per render;
//! - a Ferry cache miss: a fresh `HelmRenderer` (empty memory cache) reading the chart from a
//!   tree, copying it to a work directory, running `helm template` and parsing its output;
//! - the same miss with the work directory on tmpfs (`/dev/shm`, `with_work_dir`), which
//!   leaves out the disk writes of the chart copy;
//! - a Ferry cache hit: the same call again on an unchanged tree.
//!
//! Outputs are checked equal (as parsed YAML) before timing.
//! `cargo bench -p ferry-render --bench helm` prints a Markdown table for docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_render::helm::{HelmOptions, HelmParameter, HelmRenderer};
use ferry_render::manifest::parse_documents;
use ferry_render::tree::LocalTree;
use ferry_testkit::helm_binary;

const RUNS: usize = 41;
const HITS: usize = 2001;

fn write(root: &Path, path: &str, body: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, body).unwrap();
}

const HELPERS: &str = r#"{{- define "web.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- define "web.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "web.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "web.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "web.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
      labels:
        {{- include "web.selectorLabels" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "web.fullname" . }}
      containers:
      - name: {{ .Chart.Name }}
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
        ports:
        - name: http
          containerPort: {{ .Values.service.targetPort }}
        envFrom:
        - configMapRef:
            name: {{ include "web.fullname" . }}
        resources:
          {{- toYaml .Values.resources | nindent 10 }}
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
  - port: {{ .Values.service.port }}
    targetPort: http
    name: http
  selector:
    {{- include "web.selectorLabels" . | nindent 4 }}
"#;

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
data:
  {{- range $key, $value := .Values.config }}
  {{ $key }}: {{ $value | quote }}
  {{- end }}
"#;

const SERVICE_ACCOUNT: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
"#;

const INGRESS: &str = r#"{{- if .Values.ingress.enabled -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  rules:
  {{- range .Values.ingress.hosts }}
  - host: {{ . | quote }}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {{ include "web.fullname" $ }}
            port:
              number: {{ $.Values.service.port }}
  {{- end }}
{{- end }}
"#;

const HPA: &str = r#"{{- if .Values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "web.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
{{- end }}
"#;

fn chart(root: &Path) {
    write(
        root,
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 1.4.2\nappVersion: \"2.1.0\"\n",
    );
    write(
        root,
        "charts/web/values.yaml",
        "replicaCount: 1\nimage:\n  repository: ghcr.io/example/web\n  tag: \"\"\nservice:\n  type: ClusterIP\n  port: 80\n  targetPort: 8080\nresources:\n  requests:\n    cpu: 100m\n    memory: 128Mi\nconfig:\n  LOG_LEVEL: info\n  FEATURE_X: \"off\"\ningress:\n  enabled: false\n  hosts: []\nautoscaling:\n  enabled: false\n  minReplicas: 2\n  maxReplicas: 10\n",
    );
    write(root, "charts/web/templates/_helpers.tpl", HELPERS);
    write(root, "charts/web/templates/deployment.yaml", DEPLOYMENT);
    write(root, "charts/web/templates/service.yaml", SERVICE);
    write(root, "charts/web/templates/configmap.yaml", CONFIGMAP);
    write(
        root,
        "charts/web/templates/serviceaccount.yaml",
        SERVICE_ACCOUNT,
    );
    write(root, "charts/web/templates/ingress.yaml", INGRESS);
    write(root, "charts/web/templates/hpa.yaml", HPA);
    write(
        root,
        "env/prod/web.yaml",
        "ingress:\n  enabled: true\n  hosts: [web.example.com, www.example.com]\nautoscaling:\n  enabled: true\nconfig:\n  LOG_LEVEL: warn\n",
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    chart(root.path());
    let home = tempfile::tempdir().unwrap();
    let binary = helm_binary();
    let values = root.path().join("env/prod/web.yaml");
    let helm_template = || {
        Command::new(&binary)
            .args(["template", "shop"])
            .arg(root.path().join("charts/web"))
            .args(["--namespace", "prod", "--values"])
            .arg(&values)
            .args(["--set-string", "image.tag=2.2.0", "--include-crds"])
            .env("HELM_CONFIG_HOME", home.path().join("config"))
            .env("HELM_CACHE_HOME", home.path().join("cache"))
            .env("HELM_DATA_HOME", home.path().join("data"))
            .output()
            .unwrap()
    };
    let tree = LocalTree::new(root.path()).unwrap();
    let options = HelmOptions {
        release_name: "shop".into(),
        namespace: Some("prod".into()),
        value_files: vec!["/env/prod/web.yaml".into()],
        parameters: vec![HelmParameter {
            name: "image.tag".into(),
            value: "2.2.0".into(),
            force_string: true,
        }],
        ..HelmOptions::default()
    };

    let out = helm_template();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = parse_documents("helm", &out.stdout).unwrap();
    let ours = HelmRenderer::new(&binary)
        .render(&tree, "charts/web", &options)
        .unwrap();
    assert_eq!(*ours, theirs, "outputs differ");

    // Interleaved, alternating which side goes first, so load on the machine affects both
    // sides alike.
    let mut helm_times = Vec::new();
    let mut miss_times = Vec::new();
    let mut shm_times = Vec::new();
    let shm = Path::new("/dev/shm").is_dir();
    for run in 0..RUNS {
        let time_helm = |times: &mut Vec<Duration>| {
            let started = Instant::now();
            let out = helm_template();
            times.push(started.elapsed());
            assert!(out.status.success());
        };
        let time_ferry = |times: &mut Vec<Duration>, shm: bool| {
            let mut renderer = HelmRenderer::new(&binary);
            if shm {
                renderer = renderer.with_work_dir("/dev/shm");
            }
            let started = Instant::now();
            let objects = renderer.render(&tree, "charts/web", &options).unwrap();
            times.push(started.elapsed());
            assert_eq!(objects.len(), theirs.len());
        };
        if run % 2 == 0 {
            time_helm(&mut helm_times);
            time_ferry(&mut miss_times, false);
        } else {
            time_ferry(&mut miss_times, false);
            time_helm(&mut helm_times);
        }
        if shm {
            time_ferry(&mut shm_times, true);
        }
    }
    let renderer = HelmRenderer::new(&binary);
    renderer.render(&tree, "charts/web", &options).unwrap();
    let mut hit_times = Vec::new();
    for _ in 0..HITS {
        let started = Instant::now();
        let objects = renderer.render(&tree, "charts/web", &options).unwrap();
        hit_times.push(started.elapsed());
        assert_eq!(objects.len(), theirs.len());
    }
    let (helm, miss, hit) = (median(helm_times), median(miss_times), median(hit_times));
    let ratio = |d: Duration| format!("{:.2}×", d.as_secs_f64() / helm.as_secs_f64());
    let (shm_miss, shm_ratio) = if shm_times.is_empty() {
        ("—".to_string(), "—".to_string())
    } else {
        let d = median(shm_times);
        (ms(d), ratio(d))
    };
    println!(
        "| chart | objects | `helm template` (process) | Ferry cache miss | miss / helm | miss, work dir on /dev/shm | / helm | Ferry cache hit |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| web (7 templates + `_helpers.tpl`, value file, `--set-string`) | {} | {} | {} | {} | {shm_miss} | {shm_ratio} | {:.3} ms |",
        theirs.len(),
        ms(helm),
        ms(miss),
        ratio(miss),
        hit.as_secs_f64() * 1000.0,
    );
}
