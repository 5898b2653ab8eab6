//! The one-way layering of `src/` (docs/architecture.md), checked from the source text.
//!
//! Every library module belongs to one layer; a module may name modules of its own layer or
//! below, never above, and the top-level modules' import graph has no cycles. `error.rs` is the
//! one sanctioned hub (it converts every layer's errors), and `lib.rs` is the façade; both may
//! name anything, and anything may name `crate::Error`/`crate::Result`. The CLI (`src/cli/`,
//! `src/main.rs`) is a separate binary crate on top of the library and is only checked for not
//! reaching into the library's private parts (it cannot: they are `pub(crate)`).
//!
//! Paths are read from code, not comments: `crate::a::b`, `super::…` (resolved against the
//! file's module path) and the names `lib.rs` re-exports at the crate root.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layer of each top-level library module (L0 basics … L6 front ends).
const LAYERS: &[(&str, u8)] = &[
    ("digest", 0),
    ("reference", 0),
    ("oci", 0),
    ("util", 0),
    ("crypto", 1),
    ("pki", 1),
    ("net", 1),
    ("formats", 2),
    ("trust", 2),
    ("store", 3),
    ("sign", 4),
    ("verify", 4),
    ("policy", 5),
    ("copy", 5),
    ("tree", 5),
    ("attest", 5),
    ("k8s", 5),
    ("admission", 5),
    ("webhook", 6),
];

/// Modules every layer may name.
const HUBS: &[&str] = &["error"];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/store/registry/auth.rs` → `["store", "registry", "auth"]`; `mod.rs` names its folder.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Source lines without comments (line comments and `///`/`//!` docs; block comments are not
/// used for code in this tree).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            return None;
        }
        // A trailing comment: cut at " // " (paths never contain a space before `//`).
        let code = match line.find(" // ") {
            Some(at) => &line[..at],
            None => line,
        };
        Some((i + 1, code))
    })
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every `crate::…` and `super::…` path in one line, as module paths relative to the crate.
fn named_paths(line: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == '$');
        let rest: String = bytes[i..].iter().collect();
        if starts_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let mut segments = Vec::new();
            let mut j = i;
            loop {
                let start = j;
                while j < bytes.len() && is_ident(bytes[j]) {
                    j += 1;
                }
                if start == j {
                    break;
                }
                segments.push(bytes[start..j].iter().collect::<String>());
                if j + 1 < bytes.len() && bytes[j] == ':' && bytes[j + 1] == ':' {
                    j += 2;
                } else {
                    break;
                }
            }
            // `use crate::{a, b::c}`: each name in the braces is a path of its own.
            let mut heads = vec![segments.clone()];
            if j < bytes.len() && bytes[j] == '{' {
                let close = bytes[j..].iter().position(|&c| c == '}').map(|p| j + p);
                if let Some(close) = close {
                    let inner: String = bytes[j + 1..close].iter().collect();
                    heads = inner
                        .split(',')
                        .map(|item| {
                            let mut s = segments.clone();
                            s.extend(
                                item.trim()
                                    .split("::")
                                    .map(|p| p.trim().to_string())
                                    .filter(|p| !p.is_empty() && p.chars().all(is_ident)),
                            );
                            s
                        })
                        .collect();
                }
            }
            for segs in heads {
                if let Some(resolved) = resolve(&segs, here) {
                    found.push(resolved);
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// Turns `crate::a::b` / `super::super::c` into a crate-relative path.
fn resolve(segments: &[String], here: &[String]) -> Option<Vec<String>> {
    let mut iter = segments.iter().peekable();
    let mut base: Vec<String> = match iter.peek().map(|s| s.as_str()) {
        Some("crate") => {
            iter.next();
            Vec::new()
        }
        Some("super") => {
            // `a/b.rs` and `a/b/mod.rs` are both module a::b, whose `super` is `a`.
            here.to_vec()
        }
        _ => return None,
    };
    while iter.peek().map(|s| s.as_str()) == Some("super") {
        iter.next();
        base.pop()?;
    }
    base.extend(iter.cloned());
    Some(base)
}

/// Names `lib.rs` re-exports at the crate root → the top-level module they come from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (_, line) in code_lines(lib) {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let module = rest.split("::").next().unwrap_or("").trim().to_string();
        let names: Vec<&str> = match (rest.find('{'), rest.rfind('}')) {
            (Some(open), Some(close)) => rest[open + 1..close].split(',').collect(),
            _ => vec![rest.rsplit("::").next().unwrap_or("")],
        };
        for name in names {
            let name = name.split(" as ").last().unwrap_or(name).trim();
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            if !name.is_empty() {
                map.insert(name.to_string(), module.clone());
            }
        }
    }
    map
}

#[test]
fn lower_layers_never_name_higher_ones_and_modules_form_no_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = root_reexports(&lib);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();

    let mut violations = Vec::new();
    let mut unknown = BTreeSet::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel.iter().next().unwrap().to_string_lossy().into_owned();
        if first == "cli" || first == "main.rs" || first == "lib.rs" {
            continue;
        }
        let here = module_path(&src, file);
        let top = here[0].clone();
        if HUBS.contains(&top.as_str()) {
            continue;
        }
        let Some(my_layer) = layer_of(&top) else {
            unknown.insert(top.clone());
            continue;
        };
        let text = fs::read_to_string(file).unwrap();
        for (line_no, line) in code_lines(&text) {
            for path in named_paths(line, &here) {
                let Some(head) = path.first() else { continue };
                let target = if layer_of(head).is_some() || HUBS.contains(&head.as_str()) {
                    head.clone()
                } else if let Some(module) = reexports.get(head) {
                    module.clone()
                } else {
                    continue; // a macro or a crate-root item such as `crate::Result`
                };
                if target == top || HUBS.contains(&target.as_str()) {
                    continue;
                }
                let Some(their_layer) = layer_of(&target) else {
                    unknown.insert(target.clone());
                    continue;
                };
                edges.entry(top.clone()).or_default().insert(target.clone());
                if their_layer > my_layer {
                    violations.push(format!(
                        "{}:{line_no}: {top} (L{my_layer}) names {} (L{their_layer})",
                        rel.display(),
                        path.join("::"),
                    ));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from the layer table in tests/layering.rs (and docs/architecture.md): {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "imports pointing up the layers:\n{}",
        violations.join("\n")
    );

    // No cycles between top-level modules (same-layer modules may depend one way only).
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            cycles.push(cycle.join(" → "));
            return;
        }
        if !done.insert(node.to_string()) {
            return;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, cycles);
        }
        stack.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(
        cycles.is_empty(),
        "import cycles between modules: {cycles:?}"
    );
}

#[test]
fn sign_and_verify_never_name_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (dir, other) in [("sign", "verify"), ("verify", "sign")] {
        let mut files = Vec::new();
        let folder = src.join(dir);
        if folder.is_dir() {
            rust_files(&folder, &mut files);
        }
        let single = src.join(format!("{dir}.rs"));
        if single.is_file() {
            files.push(single);
        }
        assert!(!files.is_empty(), "src/{dir} is missing");
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for (line_no, line) in code_lines(&text) {
                assert!(
                    !line.contains(&format!("crate::{other}")),
                    "{}:{line_no}: {dir} names {other}: {line}",
                    file.display()
                );
            }
        }
    }
}

/// The checker itself: a path naming a higher layer is found, one in a comment is not.
#[test]
fn the_checker_reads_paths_and_skips_comments() {
    let here = vec!["pki".to_string(), "cert".to_string()];
    let text = "use crate::{oci, verify::Verifier};\n// crate::policy in a comment\nlet x = super::super::store::Store;";
    let found: Vec<Vec<String>> = code_lines(text)
        .flat_map(|(_, l)| named_paths(l, &here))
        .collect();
    let heads: Vec<&str> = found.iter().map(|p| p[0].as_str()).collect();
    assert_eq!(heads, ["oci", "verify", "store"]);
    assert_eq!(
        module_path(Path::new("/s"), Path::new("/s/store/registry/mod.rs")),
        ["store", "registry"]
    );
}
