#!/usr/bin/env bash
# Coverage-guided fuzzing of imgseal's parsers of outside input (fuzz/, cargo-fuzz layout).
#
#   bash scripts/fuzz.sh [SECONDS]     # each target for SECONDS (default 60)
#
# Installs cargo-fuzz when missing, builds every target once (release, debug assertions on, so
# integer overflow is a crash too), then runs each for SECONDS starting from its seed corpus
# (fuzz/corpus/TARGET) and crash reproducers (fuzz/regressions/TARGET). New inputs go to
# fuzz/work/TARGET (ignored by git). Exits non-zero on the first crash, timeout or leak; the
# reproducer is in fuzz/artifacts/TARGET/. After fixing the bug, copy it to
# fuzz/regressions/TARGET/ so tests/fuzz_corpus.rs replays it in the normal test suite.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# cargo-fuzz passes nightly-only -Z flags (sanitizer, coverage); the stable toolchain accepts
# them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O -a

status=0
for target in $(cargo fuzz list); do
    mkdir -p "work/$target"
    dirs=("work/$target" "corpus/$target")
    [ -d "regressions/$target" ] && dirs+=("regressions/$target")
    echo "== fuzz $target for ${secs}s"
    # -timeout: one input taking over 10 s is a hang, reported like a crash.
    if ! cargo fuzz run -O -a "$target" "${dirs[@]}" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "fuzz: $target failed; reproducer in fuzz/artifacts/$target/ (fix, then copy it to fuzz/regressions/$target/)" >&2
        status=1
        break
    fi
done
exit "$status"
