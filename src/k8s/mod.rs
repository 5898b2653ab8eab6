//! Kubernetes manifests: find every image a workload runs, judge each distinct image once with
//! the [policy](crate::policy), and pin passing images to their digests in the files.
//!
//! [`Manifests::read`] takes files, directories (recursively, `*.yaml`, `*.yml`, `*.json`) and
//! standard input: multi-document YAML, JSON, and `kind: List`. [`images_of`] finds the images
//! of every workload kind — Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
//! ReplicationController, PodTemplate — in `containers`, `initContainers`,
//! `ephemeralContainers` and image volumes (`volumes[].image.reference`), each with the JSON
//! pointer of its field (what an admission patch needs). [`verify`] evaluates the policy once
//! per distinct image, whatever the number of objects; [`pin`](fn@pin) rewrites image values to
//! `repo:tag@sha256:…` and leaves every other byte of the file as it was.
//!
//! ```no_run
//! # async fn demo() -> imgseal::Result<()> {
//! use imgseal::k8s::{self, Manifests};
//! use imgseal::policy::Policy;
//!
//! let (policy, _warnings) = Policy::load("policy.yaml".as_ref())?;
//! let manifests = Manifests::read(&["deploy/".into()])?;
//! let report = k8s::verify(&policy, &manifests, 16).await;
//! for c in &report.containers {
//!     println!("{} {} {}: {}", c.object(), c.container, c.image, c.allowed);
//! }
//! # Ok(()) }
//! ```

mod pin;

pub use pin::{pin, pin_text, Pinned};

use crate::policy::{Decision, Policy};
use crate::reference::{ImageRef, Reference};
use crate::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest manifest file read (the API server's own request limit is 3 MiB; generated bundles
/// can be larger, so allow some room).
pub(crate) const MAX_MANIFEST_FILE: u64 = 16 * 1024 * 1024;
/// Most files a directory walk reads.
pub(crate) const MAX_FILES: usize = 100_000;

/// One parsed document of a manifest file.
#[derive(Clone, Debug)]
pub struct Document {
    /// The file as given (`-` for standard input).
    pub file: String,
    /// 0-based index of the document in its file (items of a `List` share their document's).
    pub index: usize,
    /// The object.
    pub value: Value,
}

/// Every document of the given files.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    /// Documents in file order, `List` items expanded.
    pub documents: Vec<Document>,
    /// The raw text of each file read, by name (for [`pin`](fn@pin)).
    pub texts: BTreeMap<String, String>,
}

impl Manifests {
    /// Read files, directories (recursively: `*.yaml`, `*.yml`, `*.json`, in name order) and
    /// `-` (standard input).
    pub fn read(paths: &[PathBuf]) -> Result<Manifests> {
        let mut files = Vec::new();
        for p in paths {
            if p.as_os_str() == "-" {
                files.push(p.clone());
            } else if p.is_dir() {
                walk(p, &mut files)?;
            } else {
                files.push(p.clone());
            }
        }
        let mut out = Manifests::default();
        for f in files {
            let (shown, text) = if f.as_os_str() == "-" {
                use std::io::Read as _;
                let mut buf = Vec::new();
                std::io::stdin()
                    .take(MAX_MANIFEST_FILE + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io("reading standard input", e))?;
                if buf.len() as u64 > MAX_MANIFEST_FILE {
                    return Err(Error::invalid(
                        "standard input",
                        format!("more than {MAX_MANIFEST_FILE} bytes of manifests"),
                    ));
                }
                ("-".to_string(), into_text("standard input", buf)?)
            } else {
                let shown = f.display().to_string();
                let bytes = read_file(&f)?;
                (shown.clone(), into_text(&shown, bytes)?)
            };
            out.add_text(&shown, text)?;
        }
        Ok(out)
    }

    /// Parse `text` (YAML documents or JSON) as the file `shown`.
    pub fn add_text(&mut self, shown: &str, text: String) -> Result<()> {
        for (index, value) in parse_documents(&text, shown)?.into_iter().enumerate() {
            expand_lists(shown, index, value, &mut self.documents);
        }
        self.texts.insert(shown.to_string(), text);
        Ok(())
    }
}

fn into_text(shown: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::invalid(shown, "is not UTF-8 text"))
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(format!("reading {shown}"), e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("reading {shown}"), e))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            &shown,
            "is not a regular file (a device, FIFO or socket); give a manifest file or directory",
        ));
    }
    let mut buf = Vec::new();
    file.take(MAX_MANIFEST_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("reading {shown}"), e))?;
    if buf.len() as u64 > MAX_MANIFEST_FILE {
        return Err(Error::invalid(
            &shown,
            format!("is larger than {MAX_MANIFEST_FILE} bytes"),
        ));
    }
    Ok(buf)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("reading directory {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        // Symbolic links are not followed (no loops, no escaping the tree).
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(&p, out)?;
        } else if meta.is_file()
            && p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            if out.len() >= MAX_FILES {
                return Err(Error::invalid(
                    dir.display().to_string(),
                    format!("holds more than {MAX_FILES} manifest files"),
                ));
            }
            out.push(p);
        }
    }
    Ok(())
}

/// The documents of a YAML stream (or one JSON document), as JSON values; empty documents are
/// dropped. A document that is not valid YAML is an error naming the file and line.
pub fn parse_documents(text: &str, shown: &str) -> Result<Vec<Value>> {
    use serde::Deserialize as _;
    // Manifests come from anywhere (a pull request, a chart): bound nesting and alias
    // expansion before the parser spends memory or time on them.
    crate::policy::yaml_guard::scan_nesting(text)
        .map_err(|why| Error::invalid(shown, why.to_string()))?;
    crate::policy::yaml_guard::check_expansion_stream(text)
        .map_err(|why| Error::invalid(shown, why.to_string()))?;
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let v = Value::deserialize(doc).map_err(|e| {
            Error::invalid(
                shown,
                format!("document {}: {}", i + 1, e.to_string().replace('\n', " ")),
            )
        })?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

fn expand_lists(file: &str, index: usize, value: Value, out: &mut Vec<Document>) {
    let is_list = value["kind"]
        .as_str()
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && value["items"].is_array();
    if is_list {
        if let Value::Object(mut m) = value {
            if let Some(Value::Array(items)) = m.remove("items") {
                for item in items {
                    expand_lists(file, index, item, out);
                }
            }
        }
        return;
    }
    out.push(Document {
        file: file.to_string(),
        index,
        value,
    });
}

/// Which field of a pod spec an image is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Field {
    /// `initContainers[]`.
    InitContainers,
    /// `containers[]`.
    Containers,
    /// `ephemeralContainers[]`.
    EphemeralContainers,
    /// `volumes[].image.reference` (image volumes).
    ImageVolume,
}

/// One image a workload runs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    /// The container's (or image volume's) name.
    pub container: String,
    /// Where it is.
    pub field: Field,
    /// JSON pointer to the image string in the object (`/spec/template/spec/containers/0/image`).
    pub pointer: String,
    /// The image as written.
    pub image: String,
    /// `securityContext.privileged: true`.
    pub privileged: bool,
    /// `securityContext.allowPrivilegeEscalation: true`.
    pub allow_privilege_escalation: bool,
}

/// Where a kind keeps its pod spec, as a path of keys.
pub(crate) fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        _ => return None,
    })
}

/// The images of a workload object, or `None` when it is not a workload kind.
pub fn images_of(object: &Value) -> Option<Vec<ContainerImage>> {
    let kind = object["kind"].as_str()?;
    let path = pod_spec_path(kind)?;
    let mut spec = object;
    for key in path {
        spec = &spec[*key];
    }
    let prefix: String = path.iter().map(|k| format!("/{k}")).collect();
    Some(images_of_pod_spec(spec, &prefix))
}

/// The images of a pod spec found at JSON pointer `prefix`.
pub(crate) fn images_of_pod_spec(spec: &Value, prefix: &str) -> Vec<ContainerImage> {
    let mut out = Vec::new();
    for (key, field) in [
        ("initContainers", Field::InitContainers),
        ("containers", Field::Containers),
        ("ephemeralContainers", Field::EphemeralContainers),
    ] {
        for (i, c) in spec[key].as_array().into_iter().flatten().enumerate() {
            let sc = &c["securityContext"];
            out.push(ContainerImage {
                container: c["name"].as_str().unwrap_or("").to_string(),
                field,
                pointer: format!("{prefix}/{key}/{i}/image"),
                image: c["image"].as_str().unwrap_or("").to_string(),
                privileged: sc["privileged"].as_bool() == Some(true),
                allow_privilege_escalation: sc["allowPrivilegeEscalation"].as_bool() == Some(true),
            });
        }
    }
    for (i, v) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        if let Some(r) = v["image"]["reference"].as_str() {
            out.push(ContainerImage {
                container: v["name"].as_str().unwrap_or("").to_string(),
                field: Field::ImageVolume,
                pointer: format!("{prefix}/volumes/{i}/image/reference"),
                image: r.to_string(),
                privileged: false,
                allow_privilege_escalation: false,
            });
        }
    }
    out
}

/// An image from a manifest as a registry reference. Manifests name registry images only: an
/// `oci:` layout path is refused (a manifest must not make imgseal read local directories).
pub fn image_reference(image: &str) -> Result<ImageRef> {
    if image.is_empty() {
        return Err(Error::invalid("image", "the container has no image"));
    }
    Ok(ImageRef::Registry(image.parse::<Reference>()?))
}

/// One container of one object, with the policy's decision for its image.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResult {
    /// The file.
    pub file: String,
    /// 0-based document index in the file.
    pub document: usize,
    /// The object's kind.
    pub kind: String,
    /// Its namespace, if the manifest names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The container.
    pub container: String,
    /// Which field.
    pub field: Field,
    /// JSON pointer to the image value.
    pub pointer: String,
    /// The image as written.
    pub image: String,
    /// True when the image may run.
    pub allowed: bool,
    /// The policy's decision (absent when the image reference could not be parsed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Why the image could not be judged at all (a malformed reference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Reported beside the verdict: privileged containers, privilege escalation.
    pub warnings: Vec<String>,
}

impl ContainerResult {
    /// `kind/namespace/name` (namespace omitted when the manifest names none).
    pub fn object(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// One entry per container (and image volume) of every workload.
    pub containers: Vec<ContainerResult>,
    /// Workload objects examined.
    pub workloads: usize,
    /// Documents skipped because they are not workloads (Services, ConfigMaps…).
    pub skipped: usize,
    /// Distinct images evaluated (each once).
    pub distinct_images: usize,
    /// True when no container's image is denied.
    pub allowed: bool,
}

/// Judge every image of every workload in `manifests`, each distinct image once, at most
/// `concurrency` at a time.
pub async fn verify(policy: &Policy, manifests: &Manifests, concurrency: usize) -> Report {
    verify_with_progress(policy, manifests, concurrency, |_, _| {}).await
}

/// [`verify`], calling `progress(done, total)` as each image's decision is made (as
/// [`Policy::evaluate_many`] does).
pub async fn verify_with_progress(
    policy: &Policy,
    manifests: &Manifests,
    concurrency: usize,
    progress: impl Fn(usize, usize),
) -> Report {
    let mut rows = Vec::new();
    let mut workloads = 0;
    let mut skipped = 0;
    for doc in &manifests.documents {
        let Some(images) = images_of(&doc.value) else {
            skipped += 1;
            continue;
        };
        workloads += 1;
        let meta = &doc.value["metadata"];
        for c in images {
            rows.push((doc, meta, c));
        }
    }
    // Distinct images, by their canonical reference.
    let mut refs: Vec<ImageRef> = Vec::new();
    let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut parsed: Vec<Result<usize>> = Vec::new();
    for (_, _, c) in &rows {
        parsed.push(match image_reference(&c.image) {
            Ok(r) => {
                let key = r.to_string();
                let i = *index_of.entry(key).or_insert_with(|| {
                    refs.push(r);
                    refs.len() - 1
                });
                Ok(i)
            }
            Err(e) => Err(e),
        });
    }
    let decisions = policy.evaluate_many(&refs, concurrency, progress).await;
    let mut containers = Vec::new();
    for ((doc, meta, c), p) in rows.into_iter().zip(parsed) {
        let mut warnings = Vec::new();
        if c.privileged {
            warnings.push(format!(
                "container {} runs privileged (securityContext.privileged: true)",
                c.container
            ));
        }
        if c.allow_privilege_escalation {
            warnings.push(format!(
                "container {} allows privilege escalation (securityContext.allowPrivilegeEscalation: true)",
                c.container
            ));
        }
        let (allowed, decision, error) = match p {
            Ok(i) => {
                let d = decisions.get(i).cloned();
                (d.as_ref().is_some_and(|d| d.allowed), d, None)
            }
            Err(e) => (false, None, Some(e.to_string())),
        };
        containers.push(ContainerResult {
            file: doc.file.clone(),
            document: doc.index,
            kind: doc.value["kind"].as_str().unwrap_or("").to_string(),
            namespace: meta["namespace"].as_str().map(str::to_string),
            name: meta["name"].as_str().unwrap_or("").to_string(),
            container: c.container,
            field: c.field,
            pointer: c.pointer,
            image: c.image,
            allowed,
            decision,
            error,
            warnings,
        });
    }
    Report {
        allowed: containers.iter().all(|c| c.allowed),
        containers,
        workloads,
        skipped,
        distinct_images: refs.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<Document> {
        let mut m = Manifests::default();
        m.add_text("t.yaml", text.to_string()).unwrap();
        m.documents
    }

    #[test]
    fn finds_images_in_every_workload_kind() {
        let text = r#"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: init, image: busybox}]
  containers: [{name: app, image: "nginx:1.25", securityContext: {privileged: true}}]
  ephemeralContainers: [{name: debug, image: alpine}]
  volumes: [{name: data, image: {reference: "registry.example/data:1"}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: c, namespace: ns}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: j, image: job:1}]}}}}}
---
kind: List
items:
  - kind: Deployment
    metadata: {name: d}
    spec: {template: {spec: {containers: [{name: a, image: a:1}, {name: b, image: b:1}]}}}
  - kind: Service
    metadata: {name: s}
---
kind: PodTemplate
template: {spec: {containers: [{name: t, image: t:1}]}}
"#;
        let d = docs(text);
        assert_eq!(d.len(), 5);
        let pod = images_of(&d[0].value).unwrap();
        let got: Vec<_> = pod
            .iter()
            .map(|c| (c.pointer.as_str(), c.image.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/spec/initContainers/0/image", "busybox"),
                ("/spec/containers/0/image", "nginx:1.25"),
                ("/spec/ephemeralContainers/0/image", "alpine"),
                ("/spec/volumes/0/image/reference", "registry.example/data:1"),
            ]
        );
        assert!(pod[1].privileged);
        let cron = images_of(&d[1].value).unwrap();
        assert_eq!(
            cron[0].pointer,
            "/spec/jobTemplate/spec/template/spec/containers/0/image"
        );
        assert_eq!(images_of(&d[2].value).unwrap().len(), 2);
        assert_eq!(d[2].index, 2, "List items keep their document's index");
        assert!(images_of(&d[3].value).is_none(), "a Service is no workload");
        assert_eq!(
            images_of(&d[4].value).unwrap()[0].pointer,
            "/template/spec/containers/0/image"
        );
    }

    #[test]
    fn invalid_yaml_names_the_file_and_line() {
        let mut m = Manifests::default();
        let e = m
            .add_text("bad.yaml", "kind: Pod\nspec: [unclosed\n".into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.yaml") && e.contains("line"), "{e}");
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused_but_plain_anchors_read() {
        let mut m = Manifests::default();
        m.add_text(
            "a.yaml",
            "kind: Pod\nmetadata: {name: p, labels: &l {a: b}, annotations: *l}\nspec:\n  containers: [{name: c, image: x, env: []}]\n---\nkind: ConfigMap\nmetadata: {name: c}\n".into(),
        )
        .unwrap();
        assert_eq!(m.documents.len(), 2);
        let big = "x".repeat(10_000);
        let mut bomb = format!("kind: ConfigMap\ndata:\n  a: &a \"{big}\"\n  list: [");
        for _ in 0..2_000 {
            bomb.push_str("*a,");
        }
        bomb.push_str("*a]\n");
        let e = Manifests::default()
            .add_text("bomb.yaml", format!("kind: Service\n---\n{bomb}"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bomb.yaml") && e.contains("aliases expand"),
            "{e}"
        );
        let deep = format!(
            "kind: Pod\nspec: {}{}\n",
            "[".repeat(5_000),
            "]".repeat(5_000)
        );
        let e = Manifests::default()
            .add_text("deep.yaml", deep)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested more than"), "{e}");
    }

    #[test]
    fn layout_references_are_refused() {
        assert!(image_reference("oci:/etc").is_err());
        assert!(image_reference("").is_err());
        assert!(image_reference("nginx").is_ok());
    }
}
