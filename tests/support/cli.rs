//! Running the real `imgseal` binary from the integration tests (cli, copy, cosign fixtures,
//! referrers, multi-arch, notation, hostile registries): an isolated scratch directory (its own
//! docker config and HOME, no password variables), unencrypted PKCS#8 key files, so no test pays
//! for scrypt, and assertions on a run's exit code and output.
//!
//! Kept apart from `common` because `common` is also included by the `interop` crate, where
//! `CARGO_BIN_EXE_imgseal` does not exist.
#![allow(dead_code)]

use imgseal::SigningKey;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long one CLI run may take before a test calls it hung (each run is expected to take
/// well under a second; the margin is for a loaded CI machine).
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// A key pair both in memory (for library calls) and on disk (for the CLI).
pub struct KeyFiles {
    pub key: SigningKey,
    /// Private key file (unencrypted PKCS#8 PEM).
    pub private: String,
    /// Public key file (PKIX PEM).
    pub public: String,
}

/// A scratch directory to run the CLI in.
pub struct Cli {
    pub dir: tempfile::TempDir,
}

impl Default for Cli {
    fn default() -> Self {
        Self::new()
    }
}

impl Cli {
    pub fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docker")).unwrap();
        Cli { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `path(name)` as a CLI argument.
    pub fn p(&self, name: &str) -> String {
        arg(&self.path(name))
    }

    /// Generate a key pair and write `NAME.key` / `NAME.pub`.
    pub fn keypair(&self, name: &str) -> KeyFiles {
        let key = SigningKey::generate().unwrap();
        self.write_keypair(name, key)
    }

    /// Write `key` as `NAME.key` / `NAME.pub`.
    pub fn write_keypair(&self, name: &str, key: SigningKey) -> KeyFiles {
        let private = self.path(&format!("{name}.key"));
        let public = self.path(&format!("{name}.pub"));
        let der = key.to_pkcs8_der().unwrap();
        std::fs::write(
            &private,
            pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec())),
        )
        .unwrap();
        std::fs::write(&public, key.public_key().to_pem()).unwrap();
        KeyFiles {
            key,
            private: private.display().to_string(),
            public: public.display().to_string(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_imgseal"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("DOCKER_CONFIG", self.path("docker"))
            .env("HOME", self.dir.path())
            .env_remove("COSIGN_PASSWORD")
            .env_remove("IMGSEAL_PASSWORD")
            .env_remove("RUST_LOG")
            .env_remove("IMGSEAL_REGISTRY_USERNAME")
            .env_remove("IMGSEAL_REGISTRY_PASSWORD")
            .env_remove("IMGSEAL_REGISTRY_TOKEN")
            .stdin(std::process::Stdio::null());
        c
    }

    /// Run and wait, with no time limit.
    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Run and wait, asserting the run finished within [`RUN_LIMIT`].
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Output {
        run_timed(args, &mut self.cmd(args))
    }
}

/// A test file's scratch directory: the file adds the runs and helpers it needs
/// (`impl Env { … }`, whose methods take precedence over the [`Cli`]'s it derefs to).
pub struct Env {
    pub cli: Cli,
}

impl Env {
    pub fn new() -> Env {
        Env { cli: Cli::new() }
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for Env {
    type Target = Cli;
    fn deref(&self) -> &Cli {
        &self.cli
    }
}

/// Run `cmd` (made by [`Cli::cmd`] from `args`) and wait, asserting the run finished within
/// [`RUN_LIMIT`].
#[track_caller]
pub fn run_timed(args: &[&str], cmd: &mut Command) -> Output {
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert!(
        took < RUN_LIMIT,
        "imgseal {args:?} took {took:?}\nstderr: {}",
        stderr(&out)
    );
    out
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `imgseal: warning: …` lines of a run, without the prefix.
pub fn warnings(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter_map(|l| l.strip_prefix("imgseal: warning: "))
        .map(str::to_string)
        .collect()
}

/// The warnings of a successful run that signed or verified registry image `image` by tag,
/// besides the one saying the tag can be moved (asserted to be there exactly once).
#[track_caller]
pub fn warnings_beside_tag(o: &Output, image: &str) -> Vec<String> {
    let tag = format!("{image} is a tag, which can be moved; it resolved to ");
    let ws = warnings(o);
    assert_eq!(
        ws.iter().filter(|w| w.starts_with(&tag)).count(),
        1,
        "expected one warning that {image} is a tag: {}",
        stderr(o)
    );
    ws.into_iter().filter(|w| !w.starts_with(&tag)).collect()
}

/// stdout parsed as JSON (for `-o json`).
#[track_caller]
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

/// Exit `code` (so no crash by signal), no panic, stderr holding every needle, and exactly one
/// line besides the `imgseal: warning: …` lines.
#[track_caller]
pub fn assert_fails(o: &Output, code: i32, needles: &[&str]) {
    check_failure(o, code, needles, true);
}

/// [`assert_fails`] with a single needle.
#[track_caller]
pub fn assert_fails_one(o: &Output, code: i32, needle: &str) {
    check_failure(o, code, &[needle], true);
}

/// [`assert_fails`] with a single needle, and stderr is that one line alone: warnings count.
#[track_caller]
pub fn assert_fails_alone(o: &Output, code: i32, needle: &str) {
    check_failure(o, code, &[needle], false);
}

#[track_caller]
fn check_failure(o: &Output, code: i32, needles: &[&str], skip_warnings: bool) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        stdout(o)
    );
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in stderr: {err}");
    }
    // One line for the error; `imgseal: warning: …` lines (one each) may precede it, and
    // `imgseal:   …` lines (one per failed signature) may follow it.
    assert_eq!(
        err.trim_end()
            .lines()
            .filter(|l| !(skip_warnings && l.starts_with("imgseal: warning: ")))
            .filter(|l| !l.starts_with("imgseal:   "))
            .count(),
        1,
        "error must be one line: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Some warning line holds every needle.
#[track_caller]
pub fn assert_warned(o: &Output, needles: &[&str]) {
    let ws = warnings(o);
    assert!(
        ws.iter().any(|w| needles.iter().all(|n| w.contains(n))),
        "expected a warning with {needles:?}; stderr: {}",
        stderr(o)
    );
}

/// A path's display string (for CLI arguments).
pub fn arg(p: &Path) -> String {
    p.display().to_string()
}

/// A generous hang guard for runs that used to hang forever (a FIFO read, a parser bomb): each
/// is expected to take well under a second.
pub const HANG_LIMIT: Duration = Duration::from_secs(30);

/// Run `cmd`, killing it and failing the test if it has not finished within [`HANG_LIMIT`]
/// (unlike [`run_timed`], which can only complain after a hung run ends).
#[track_caller]
pub fn run_guarded(what: &str, cmd: &mut Command) -> Output {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out_t = drain(Box::new(child.stdout.take().unwrap()));
    let err_t = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
            panic!("{what}: imgseal did not finish within {HANG_LIMIT:?} (killed); stderr: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}
