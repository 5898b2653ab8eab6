//! The fuzz corpus and crash reproducers in the normal suite (no nightly, no cargo-fuzz):
//! every file in `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same
//! entry point as the fuzz target `<target>` (fuzz/src/lib.rs, included here), which panics on
//! any bug it can see (a parser panicking, a written value that does not parse back).

#[path = "../fuzz/src/lib.rs"]
mod entries;

use std::path::Path;

#[test]
fn every_corpus_and_regression_file_passes_its_entry_point() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, entry) in entries::TARGETS {
        let corpus = root.join("corpus").join(name);
        let seeds = std::fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0);
        assert!(
            seeds > 0,
            "fuzz target {name} has no seed corpus in {}",
            corpus.display()
        );
        for kind in ["corpus", "regressions"] {
            let Ok(dir) = std::fs::read_dir(root.join(kind).join(name)) else {
                continue;
            };
            for file in dir {
                let path = file.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                ran += 1;
                let result = std::panic::catch_unwind(|| entry(&data));
                if result.is_err() {
                    failures.push(path.display().to_string());
                }
            }
        }
    }
    // Every directory names a target, so a reproducer cannot sit where nothing runs it.
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for d in dir {
            let name = d.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                entries::TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/{kind}/{name} is not a fuzz target"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} inputs failed: {failures:#?}",
        failures.len()
    );
}
