//! The `imgseal` command line: dispatch. The flags are defined in `args`, each command in a
//! file of its own that builds library values, calls one library function and renders its
//! result; library errors are rendered once, with the flag hints, in `error`.
//!
//! Exit codes: 0 success (verified); 1 verification failed (no valid signature, or content
//! that does not match its digest or exceeds a size cap); 2 usage, configuration, I/O or
//! registry errors.

use clap::{Args, Parser, Subcommand, ValueEnum};
use imgseal::formats::SignatureFormat;
use imgseal::trust::CertificateTrust;
use imgseal::verify::NotationTrust;
use imgseal::{Attach, Error, ImageRef, PublicKey, Signer, SigningKey, StoreOptions, Verifier};
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Write a line to stdout. A closed stdout (`imgseal tree IMG | head -1`: EPIPE) is not an
/// error: the rest of the output is dropped and the command exits with the code it would have
/// had. Any other write error is reported once, at the end, with exit code 2.
macro_rules! outln {
    ($($t:tt)*) => { $crate::cli::out::line(format_args!($($t)*)) };
}

/// Write a line to stderr; a closed stderr is ignored (the exit code still tells the story).
macro_rules! errln {
    () => { $crate::cli::out::err(format_args!(""), true) };
    ($($t:tt)*) => { $crate::cli::out::err(format_args!($($t)*), true) };
}

mod admission;
mod args;
mod attest;
mod cert;
mod completion;
mod containers_policy;
mod copy;
mod error;
mod foreign;
mod k8s;
mod keys;
mod login;
mod notation;
pub(crate) mod out;
mod password;
mod policy;
mod public_key;
mod render;
mod sarif;
mod sign;
mod tree;
mod trusted_root;
mod verify;
mod verify_attestation;
mod verify_blob;
mod version;

use admission::*;
use args::*;
use attest::*;
use cert::*;
use completion::*;
use containers_policy::*;
use copy::*;
use foreign::*;
use k8s::*;
use keys::*;
use login::*;
use notation::*;
use password::*;
use policy::*;
use public_key::*;
use sarif::*;
use sign::*;
use tree::*;
use trusted_root::*;
use verify::*;
use verify_attestation::*;
use verify_blob::*;
use version::*;

/// Exit code: verification failed.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit code: usage, configuration, I/O or registry error.
pub(crate) const EXIT_ERROR: u8 = 2;

/// Run the CLI and return its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // A malformed value (a duration, KEY=VALUE…): one line, as every other usage error.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            errln!("imgseal: {}", first.trim());
            return ExitCode::from(EXIT_ERROR);
        }
        // A value outside a fixed list: one line that names the accepted values.
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidValue => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default().trim();
            let possible = text
                .lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("[possible values: "))
                .and_then(|l| l.strip_suffix(']'));
            let tip = text
                .lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("tip: "))
                .map(|t| format!("; {t}"))
                .unwrap_or_default();
            match possible {
                Some(values) => errln!("imgseal: {first} (possible values: {values}){tip}"),
                None => errln!("imgseal: {first}{tip}"),
            }
            return ExitCode::from(EXIT_ERROR);
        }
        Err(e) => e.exit(),
    };
    init_tracing(cli.verbose);
    // One thread is enough for a command: its registry requests run concurrently on it, and
    // starting worker threads (and hopping between them on every wake-up) costs more than a
    // single verification. The webhook server serves many reviews at once and gets a worker
    // per core.
    let serving = matches!(
        cli.command,
        Command::Admission(args::AdmissionCommand::Serve(_))
    );
    let built = if serving {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match built {
        Ok(r) => r,
        Err(e) => {
            errln!("imgseal: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let budget = timeout_of(&cli.command);
    let result = runtime.block_on(async {
        match budget {
            // The library enforces the deadline on every registry request; this is the
            // backstop for anything else that would outlast it (with a little grace so the
            // library's message, which names the registry, wins).
            Some(b) => tokio::time::timeout(b + std::time::Duration::from_secs(2), run(cli))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Usage(format!(
                        "did not finish within the {} deadline",
                        imgseal::util::text::go_duration(b)
                    )))
                }),
            None => run(cli).await,
        }
    });
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            errln!("imgseal: error: {}", error::render(&e));
            if e.is_integrity_failure() {
                EXIT_FAILED
            } else {
                EXIT_ERROR
            }
        }
    };
    match out::finish() {
        Some(e) => {
            errln!("imgseal: error: cannot write to stdout: {e}");
            ExitCode::from(EXIT_ERROR)
        }
        None => ExitCode::from(code),
    }
}

/// The `-t/--timeout` of a command that talks to registries.
/// `-d/--verbose`: imgseal's debug events on stderr; RUST_LOG, when set, decides instead.
fn init_tracing(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(v.trim()).unwrap_or_else(|e| {
            errln!("imgseal: warning: RUST_LOG is not a valid filter ({e}); using -d's");
            EnvFilter::new(if verbose { "imgseal=debug" } else { "off" })
        }),
        _ if verbose => EnvFilter::new("imgseal=debug"),
        _ => return,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .without_time()
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn timeout_of(c: &Command) -> Option<std::time::Duration> {
    match c {
        Command::Sign(a) => Some(a.store.timeout.timeout),
        Command::Verify(a) => Some(a.store.timeout.timeout),
        Command::Attest(a) => Some(a.store.timeout.timeout),
        Command::VerifyAttestation(a) => Some(a.store.timeout.timeout),
        Command::Tree(a) => Some(a.store.timeout.timeout),
        Command::Copy(a) => Some(a.timeout.timeout),
        Command::K8s(K8sCommand::Verify(a)) => Some(a.k8s.timeout.timeout),
        Command::K8s(K8sCommand::Pin(a)) => Some(a.k8s.timeout.timeout),
        _ => None,
    }
}

/// The registry credentials a command was given, to be checked before any work starts.
fn auth_of(c: &Command) -> Option<&RegistryAuthArgs> {
    match c {
        Command::Sign(a) => Some(&a.store.auth),
        Command::Verify(a) => Some(&a.store.auth),
        Command::Tree(a) => Some(&a.store.auth),
        Command::Copy(a) => Some(&a.auth),
        Command::K8s(K8sCommand::Verify(a)) => Some(&a.k8s.auth),
        Command::K8s(K8sCommand::Pin(a)) => Some(&a.k8s.auth),
        _ => None,
    }
}

async fn run(cli: Cli) -> Result<u8, Error> {
    if let Some(auth) = auth_of(&cli.command) {
        check_credentials(auth)?;
    }
    match cli.command {
        Command::GenerateKeyPair(a) => generate(a),
        Command::Sign(a) => sign(a).await,
        Command::Verify(a) => verify(*a).await,
        Command::VerifyBlob(a) => verify_blob(a),
        Command::TrustedRoot(TrustedRootCommand::Create(a)) => trusted_root_create(a),
        Command::Attest(a) => attest(a).await,
        Command::VerifyAttestation(a) => verify_attestation(a).await,
        Command::Policy(PolicyCommand::Validate {
            file,
            output,
            strict,
        }) => policy_validate(&file, output, strict),
        Command::Policy(PolicyCommand::ImportContainers { file }) => import_containers(&file),
        Command::Cert(CertCommand::GenerateTest {
            name,
            trust_store,
            force,
            password,
        }) => cert_generate_test(&name, trust_store.as_deref(), force, &password),
        Command::Cert(c) => cert(c),
        Command::Tree(a) => tree(a).await,
        Command::Copy(a) => copy(a).await,
        Command::K8s(K8sCommand::Verify(a)) => k8s_verify(a).await,
        Command::K8s(K8sCommand::Pin(a)) => k8s_pin(a).await,
        Command::Admission(AdmissionCommand::Serve(a)) => admission_serve(a).await,
        Command::Completion { shell } => Ok(completion(shell)),
        Command::Man { dir } => man_pages(&dir),
        Command::PublicKey(a) => public_key(a),
        Command::Login(a) => login(a),
        Command::Logout { server } => logout(&server),
        Command::Version { json } => version(json),
        Command::Save(_) => foreign("save"),
        Command::Load(_) => foreign("load"),
        Command::Triangulate(_) => foreign("triangulate"),
        Command::Download(_) => foreign("download"),
        Command::Inspect(_) => foreign("inspect"),
        Command::List(_) => foreign("list"),
    }
}

/// A PEM certificate chain (`--certificate`, `--certificate-chain`).
pub(crate) const MAX_CERTIFICATE_FILE: u64 = 4 * 1024 * 1024;

pub(crate) fn image_ref(image: &str, store: &StoreArgs) -> Result<ImageRef, Error> {
    match &store.oci_layout {
        Some(path) => ImageRef::in_layout(&path.to_string_lossy(), image),
        None => ImageRef::parse(image),
    }
}

/// `--allow-http-registry` when no image is in a registry would be accepted and ignored.
/// Every image argument as a reference (see [`image_ref`]), with the warning of
/// [`warn_unused_http`].
pub(crate) fn image_refs(images: &[String], store: &StoreArgs) -> Result<Vec<ImageRef>, Error> {
    let refs = images
        .iter()
        .map(|i| image_ref(i, store))
        .collect::<Result<Vec<_>, _>>()?;
    warn_unused_http(store.allow_http_registry, &refs.iter().collect::<Vec<_>>());
    Ok(refs)
}

pub(crate) fn warn_unused_http(allow_http: bool, images: &[&ImageRef]) {
    if allow_http && images.iter().all(|i| matches!(i, ImageRef::Layout(_))) {
        errln!("imgseal: warning: --allow-http-registry is not used: no image is in a registry");
    }
}

pub(crate) fn store_options(store: &StoreArgs) -> StoreOptions {
    StoreOptions {
        allow_http: store.allow_http_registry,
        credentials: given_credentials(&store.auth),
        tls: tls_options(&store.auth),
        ..StoreOptions::default()
    }
    .with_timeout(store.timeout.timeout)
}

/// The TLS files of `a`, read once per run (checked before any work in [`check_credentials`]).
pub(crate) fn tls_options(a: &RegistryAuthArgs) -> imgseal::store::TlsOptions {
    use std::sync::OnceLock;
    static LOADED: OnceLock<imgseal::store::TlsOptions> = OnceLock::new();
    LOADED
        .get_or_init(|| load_tls(a).unwrap_or_default())
        .clone()
}

fn load_tls(a: &RegistryAuthArgs) -> Result<imgseal::store::TlsOptions, Error> {
    imgseal::store::TlsOptions::from_pem_files(
        a.registry_cacert.as_deref(),
        a.registry_client_cert.as_deref(),
        a.registry_client_key.as_deref(),
        a.allow_insecure_registry,
    )
}

/// `--registry-username/--registry-password/--registry-token` for the library.
pub(crate) fn given_credentials(
    a: &RegistryAuthArgs,
) -> imgseal::store::registry::credentials::GivenCredentials {
    imgseal::store::registry::credentials::GivenCredentials {
        username: a.registry_username.clone(),
        password: a.registry_password.clone(),
        token: a.registry_token.clone(),
    }
}

/// Refuse incomplete or conflicting registry credentials before any work starts.
pub(crate) fn check_credentials(a: &RegistryAuthArgs) -> Result<(), Error> {
    given_credentials(a)
        .credential()
        .map_err(|e| Error::Usage(e.to_string()))?;
    load_tls(a)?;
    if a.allow_insecure_registry {
        errln!("imgseal: warning: --allow-insecure-registry: registries' TLS certificates are NOT verified; anyone on the network path can impersonate them");
    }
    Ok(())
}
