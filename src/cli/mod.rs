//! Command-line definitions and rendering. Every command builds library values, calls one
//! library function and renders its result; errors are rendered once, here.
//!
//! Exit codes: 0 success (verified); 1 verification failed (no valid signature, or content
//! that does not match its digest or exceeds a size cap); 2 usage, configuration, I/O or
//! registry errors.

use clap::{Args, Parser, Subcommand, ValueEnum};
use imgseal::verify::{CertificateTrust, NotationTrust, SignatureFormat};
use imgseal::{
    keys, Attach, Error, ImageRef, PublicKey, Signer, SigningKey, StoreOptions, Verifier,
};
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

/// Write to stderr without a newline (progress lines).
macro_rules! err {
    ($($t:tt)*) => { $crate::cli::out::err(format_args!($($t)*), false) };
}

/// stdout and stderr that never panic (`println!` panics on a closed pipe).
pub(crate) mod out {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
    static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);

    /// Every line is passed through `imgseal::text::escape_lines`: digests, tags,
    /// annotations, error bodies and certificate names come from registries, layouts and
    /// signatures, and a control character among them must not reach the terminal as an
    /// escape sequence (a cleared screen, a fake "verified" line). JSON is unchanged by it
    /// (serde already escapes control characters; line breaks are kept).
    fn shown(args: std::fmt::Arguments<'_>) -> String {
        let text = args.to_string();
        // A progress line's leading carriage return is imgseal's own.
        match text.strip_prefix('\r') {
            Some(rest) => format!("\r{}", imgseal::text::escape_lines(rest)),
            None => imgseal::text::escape_lines(&text).into_owned(),
        }
    }

    pub(crate) fn line(args: std::fmt::Arguments<'_>) {
        if STDOUT_GONE.load(Ordering::Relaxed) {
            return;
        }
        let mut out = std::io::stdout().lock();
        let written = out
            .write_all(shown(args).as_bytes())
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            STDOUT_GONE.store(true, Ordering::Relaxed);
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                if let Ok(mut slot) = STDOUT_ERROR.lock() {
                    slot.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    pub(crate) fn err(args: std::fmt::Arguments<'_>, newline: bool) {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(shown(args).as_bytes());
        if newline {
            let _ = e.write_all(b"\n");
        }
    }

    /// Flush stdout; the write error to report, if any (a closed pipe is none).
    pub(crate) fn finish() -> Option<String> {
        if !STDOUT_GONE.load(Ordering::Relaxed) {
            if let Err(e) = std::io::stdout().lock().flush() {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Some(e.to_string());
                }
            }
        }
        STDOUT_ERROR.lock().ok().and_then(|mut s| s.take())
    }
}

mod error;

/// Exit code: verification failed.
const EXIT_FAILED: u8 = 1;
/// Exit code: usage, configuration, I/O or registry error.
const EXIT_ERROR: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "imgseal",
    version,
    about = "Sign container images and verify them before they run (cosign and Notary Project formats).",
    after_help = "Exit codes: 0 success; 1 verification failed; 2 usage, configuration, I/O or registry error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate an ECDSA P-256 key pair: PREFIX.key (cosign's encrypted format, mode 0600) and PREFIX.pub.
    GenerateKeyPair(GenerateArgs),
    /// Sign an image and attach the signature (cosign .sig tag, OCI 1.1 referrer, or a notation signature).
    Sign(SignArgs),
    /// Verify an image's signatures against a public key, or images against a policy.
    Verify(VerifyArgs),
    /// Work with policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Work with certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Show everything attached to an image: signatures, attestations, SBOMs, by scheme.
    Tree(TreeArgs),
    /// Copy an image with its signatures and other referrers between registries and OCI layouts, preserving digests.
    Copy(CopyArgs),
    /// Kubernetes manifests: verify every image against a policy, pin images to digests.
    #[command(subcommand)]
    K8s(K8sCommand),
    /// Kubernetes admission: serve the policy as a validating and mutating webhook.
    #[command(subcommand)]
    Admission(AdmissionCommand),
    /// Print a shell completion script (e.g. `imgseal completion bash > /etc/bash_completion.d/imgseal`).
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages for imgseal and each of its commands into DIR (imgseal.1, imgseal-sign.1, …).
    Man {
        /// Directory for the pages (created when missing).
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum AdmissionCommand {
    /// Serve /validate and /mutate (AdmissionReview v1) over HTTPS, with /healthz, /readyz
    /// and /metrics; the policy and the TLS files are reloaded when they change.
    Serve(ServeArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum FailurePolicy {
    /// deny the request when the review budget runs out
    Deny,
    /// allow it (with a warning)
    Allow,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// TLS certificate chain (PEM), reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// TLS private key (PEM), reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:8443")]
    addr: std::net::SocketAddr,
    /// Time for one review; keep it below the webhook's timeoutSeconds (default 10s).
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = parse_duration)]
    budget: std::time::Duration,
    /// What a review that runs out of budget answers.
    #[arg(long, value_enum, default_value_t = FailurePolicy::Deny)]
    failure_policy: FailurePolicy,
    /// Namespace whose requests are allowed unexamined (repeatable; replaces the default).
    #[arg(long, value_name = "NAMESPACE", default_values_t = ["kube-system".to_string()])]
    exempt_namespace: Vec<String>,
    /// How long a verified decision is reused.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    cache_ttl: std::time::Duration,
    /// How long a tag's digest is reused.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    tag_ttl: std::time::Duration,
    /// Most decisions held.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    cache_size: usize,
    /// Images verified at once per review.
    #[arg(long, value_name = "N", default_value_t = 16)]
    concurrency: usize,
    /// How often the policy and TLS files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    reload_interval: std::time::Duration,
    /// Allow plain HTTP to registries that are not on loopback.
    #[arg(long)]
    allow_http_registry: bool,
}

#[derive(Subcommand, Debug)]
enum K8sCommand {
    /// Verify every image of every workload in manifests (files, directories, - for stdin)
    /// against a policy; each distinct image is evaluated once.
    Verify(K8sVerifyArgs),
    /// Rewrite each image that passes the policy to repo:tag@sha256:…, changing nothing else
    /// in the file; refuses (exit 1, file untouched) when any image is denied.
    Pin(K8sPinArgs),
}

#[derive(Args, Debug)]
struct K8sArgs {
    /// Manifest file, directory (recursive: *.yaml, *.yml, *.json) or - for standard input
    /// (repeatable).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    filename: Vec<PathBuf>,
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// How many images to resolve and verify at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    concurrency: usize,
    /// Allow plain HTTP to registries that are not on loopback.
    #[arg(long)]
    allow_http_registry: bool,
    #[command(flatten)]
    timeout: TimeoutArgs,
}

#[derive(Args, Debug)]
struct K8sVerifyArgs {
    #[command(flatten)]
    k8s: K8sArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = VerifyOutput::Text)]
    output: VerifyOutput,
}

#[derive(Args, Debug)]
struct K8sPinArgs {
    #[command(flatten)]
    k8s: K8sArgs,
    /// Rewrite the files in place (atomically) instead of printing the result.
    #[arg(short = 'w', long)]
    write: bool,
}

#[derive(Args, Debug)]
struct CopyArgs {
    /// Allow plain HTTP to SRC's and DST's registries even though they are not on loopback.
    #[arg(long)]
    allow_http_registry: bool,
    #[command(flatten)]
    timeout: TimeoutArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Source image: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout.
    src: String,
    /// Destination: host/repo[:tag][@digest] or oci:PATH[:REF]. Without a tag, SRC's tag (into a
    /// layout: SRC's full reference as ref name). A missing layout directory is created.
    dst: String,
}

#[derive(Args, Debug)]
struct TreeArgs {
    /// Public keys to attribute signatures to (repeatable).
    #[arg(long, value_name = "PUBKEY")]
    key: Vec<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Image: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout.
    image: String,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum AttachArg {
    /// cosign's sha256-<hex>.sig tag (read by every cosign verifier)
    Tag,
    /// an OCI 1.1 artifact with subject (referrers API, or its tag-schema fallback)
    Referrers,
    /// both
    Both,
}

#[derive(Args, Debug)]
struct PasswordArgs {
    /// Read the key password from this file (first line). Otherwise IMGSEAL_PASSWORD or
    /// COSIGN_PASSWORD, otherwise a prompt on the terminal.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "imgseal")]
    output_key_prefix: String,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    password: PasswordArgs,
}

#[derive(Args, Debug)]
struct TimeoutArgs {
    /// Give up when the whole command has not finished in this long (e.g. 30s, 3m, 1h, 1m30s),
    /// as cosign's --timeout.
    #[arg(short = 't', long = "timeout", value_name = "DURATION", default_value = "3m", value_parser = parse_timeout)]
    timeout: std::time::Duration,
}

#[derive(Args, Debug)]
struct StoreArgs {
    /// Allow plain HTTP to this image's registry even though it is not on loopback.
    #[arg(long)]
    allow_http_registry: bool,
    #[command(flatten)]
    timeout: TimeoutArgs,
    /// Treat IMAGE as a ref name (or @digest) inside the OCI image layout at PATH.
    #[arg(long, value_name = "PATH")]
    oci_layout: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct SignArgs {
    /// Private key file (cosign encrypted, PKCS#8 or SEC1 PEM).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Annotation to sign into the payload's `optional` section (repeatable).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    annotations: Vec<(String, String)>,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// Where to attach the signature (cosign format; notation signatures are always referrers).
    #[arg(long, value_enum)]
    attach: Option<AttachArg>,
    /// Signature format.
    #[arg(long, value_enum, default_value_t = FormatArg::Cosign)]
    format: FormatArg,
    /// Signing certificate (PEM) for the key, optionally followed by its issuers (as in
    /// `cert generate-test`'s NAME.crt): cosign's key-in-certificate mode.
    #[arg(long, value_name = "CERT")]
    certificate: Option<PathBuf>,
    /// Certificate chain (PEM): for cosign, the issuers of --certificate; for notation, the
    /// whole chain, leaf first (or the issuers when --certificate is given).
    #[arg(long, value_name = "CHAIN")]
    certificate_chain: Option<PathBuf>,
    /// notation: the signature expires this long after signing (e.g. 24h, 30d, 3600s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expiry: Option<std::time::Duration>,
    /// For an image index, also sign every platform manifest it lists.
    #[arg(long)]
    recursive: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Image: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout.
    image: String,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// Public key file (PKIX PEM).
    #[arg(long, value_name = "PUBKEY", required_unless_present_any = ["policy", "certificate_chain", "trust_policy"])]
    key: Option<PathBuf>,
    /// cosign certificate mode: root certificates (PEM) the signing certificate must chain to.
    #[arg(long, value_name = "ROOTS")]
    certificate_chain: Option<PathBuf>,
    /// cosign certificate mode: identity the signing certificate must carry, as cosign
    /// matches it: a SAN email, URI or DNS name (never the subject CN or DN).
    #[arg(long, value_name = "IDENTITY", requires = "certificate_chain")]
    certificate_identity: Option<String>,
    /// cosign certificate mode: subject the signing certificate must have, its CN or its whole
    /// DN (an explicit opt-in, for PKIs that issue certificates without SANs).
    #[arg(long, value_name = "SUBJECT", requires = "certificate_chain")]
    certificate_subject: Option<String>,
    /// Notary Project trust policy (notation's trustpolicy.json, accepted unchanged).
    #[arg(long, value_name = "FILE", requires = "trust_store")]
    trust_policy: Option<PathBuf>,
    /// Notary Project trust store directory (holding x509/ca/<name>/…).
    #[arg(long, value_name = "DIR", requires = "trust_policy")]
    trust_store: Option<PathBuf>,
    /// Only check signatures of this format (default: every format there is trust material for).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Evaluate the images against this policy file instead of one key (-a, --identity and
    /// --platform apply on top of it; other trust flags are refused).
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    policy: Option<PathBuf>,
    /// Accept signatures that name this repository (e.g. registry.example/app) instead of the
    /// image's own: for a mirror or copy, whose signatures name the repository they were made in.
    #[arg(long, value_name = "REPOSITORY")]
    identity: Option<String>,
    /// With --policy: how many images to resolve and verify at once (default 16).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Annotation every accepted signature must carry (repeatable; with --policy, required of
    /// every image on top of its rule).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    annotations: Vec<(String, String)>,
    #[command(flatten)]
    store: StoreArgs,
    /// For an image index, also verify the platform manifest for OS/ARCH[/VARIANT] (with
    /// --policy, in every signature check).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Output format (sarif: with --policy, one result per failed check).
    #[arg(long, short = 'o', value_enum, default_value_t = VerifyOutput::Text)]
    output: VerifyOutput,
    /// Images: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout (several only with --policy).
    #[arg(required = true, num_args = 1..)]
    image: Vec<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    /// cosign's simple-signing format
    Cosign,
    /// Notary Project JWS envelope
    Notation,
}

impl From<FormatArg> for SignatureFormat {
    fn from(f: FormatArg) -> SignatureFormat {
        match f {
            FormatArg::Cosign => SignatureFormat::Cosign,
            FormatArg::Notation => SignatureFormat::Notation,
        }
    }
}

/// A duration like Go's (and cosign's): one or more NUMBER UNIT pairs, units `ms`, `s`, `m`,
/// `h` and (for expiries) `d`: `30s`, `3m`, `1h`, `1m30s`, `24h`, `30d`. A bare number is seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{s:?} is not a duration like 30s, 3m, 1h30m, 24h or 30d");
    if let Ok(n) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(n));
    }
    let mut total = std::time::Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis_per: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let part = n
            .checked_mul(millis_per)
            .map(std::time::Duration::from_millis)
            .ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    Ok(total)
}

/// `-t/--timeout`: a [`parse_duration`] of at least one millisecond and at most a year.
fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("{s:?}: the timeout must be more than zero"));
    }
    if d > std::time::Duration::from_secs(366 * 86_400) {
        return Err(format!("{s:?}: the timeout must be at most a year"));
    }
    Ok(d)
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Create a demo root CA and a code-signing leaf for NAME (like `notation cert
    /// generate-test`): NAME.key (encrypted, 0600), NAME.crt (leaf then root), NAME-root.crt.
    GenerateTest {
        /// Name for the certificates' CN and the files.
        name: String,
        /// Also add the root to this notation trust store as x509/ca/NAME/NAME-root.crt.
        #[arg(long, value_name = "DIR")]
        trust_store: Option<PathBuf>,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Check a policy file: syntax, unknown keys (with the line), authorities' key files,
    /// regexes; warns about rules that can never match and catch-alls listed first.
    Validate {
        /// The policy file (YAML).
        file: PathBuf,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum VerifyOutput {
    Text,
    Json,
    Sarif,
}

fn parse_annotation(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Run the CLI and return its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
                        imgseal::text::go_duration(b)
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
fn timeout_of(c: &Command) -> Option<std::time::Duration> {
    match c {
        Command::Sign(a) => Some(a.store.timeout.timeout),
        Command::Verify(a) => Some(a.store.timeout.timeout),
        Command::Tree(a) => Some(a.store.timeout.timeout),
        Command::Copy(a) => Some(a.timeout.timeout),
        Command::K8s(K8sCommand::Verify(a)) => Some(a.k8s.timeout.timeout),
        Command::K8s(K8sCommand::Pin(a)) => Some(a.k8s.timeout.timeout),
        _ => None,
    }
}

async fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::GenerateKeyPair(a) => generate(a),
        Command::Sign(a) => sign(a).await,
        Command::Verify(a) => verify(a).await,
        Command::Policy(PolicyCommand::Validate { file }) => policy_validate(&file),
        Command::Cert(CertCommand::GenerateTest {
            name,
            trust_store,
            force,
            password,
        }) => cert_generate_test(&name, trust_store.as_deref(), force, &password),
        Command::Tree(a) => tree(a).await,
        Command::Copy(a) => copy(a).await,
        Command::K8s(K8sCommand::Verify(a)) => k8s_verify(a).await,
        Command::K8s(K8sCommand::Pin(a)) => k8s_pin(a).await,
        Command::Admission(AdmissionCommand::Serve(a)) => admission_serve(a).await,
        Command::Completion { shell } => {
            use clap::CommandFactory as _;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "imgseal", &mut out);
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&out);
            let _ = stdout.flush();
            Ok(0)
        }
        Command::Man { dir } => man_pages(&dir),
    }
}

/// A password file holds one line.
const MAX_PASSWORD_FILE: u64 = 64 * 1024;
/// A PEM certificate chain (`--certificate`, `--certificate-chain`).
const MAX_CERTIFICATE_FILE: u64 = 4 * 1024 * 1024;

fn read_password(args: &PasswordArgs, confirm: bool) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    use zeroize::Zeroizing;
    if let Some(path) = &args.password_file {
        let bytes = imgseal::fsutil::read_capped(path, MAX_PASSWORD_FILE, "a password file")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Usage(format!("password file {} is not UTF-8", path.display())))?;
        let first = text.lines().next().unwrap_or("");
        return Ok(Zeroizing::new(first.as_bytes().to_vec()));
    }
    for var in ["IMGSEAL_PASSWORD", "COSIGN_PASSWORD"] {
        if let Ok(v) = std::env::var(var) {
            return Ok(Zeroizing::new(v.into_bytes()));
        }
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NoPassword);
    }
    let first = rpassword::prompt_password("Enter password for private key: ")
        .map_err(|e| Error::Usage(format!("cannot read password from the terminal: {e}")))?;
    if confirm {
        let again = rpassword::prompt_password("Enter password for private key again: ")
            .map_err(|e| Error::Usage(format!("cannot read password from the terminal: {e}")))?;
        if again != first {
            return Err(Error::Usage(
                "passwords do not match; nothing was written".into(),
            ));
        }
    }
    Ok(Zeroizing::new(first.into_bytes()))
}

fn generate(a: GenerateArgs) -> Result<u8, Error> {
    // Check before prompting so nobody types a password for nothing.
    if !a.force {
        for ext in ["key", "pub"] {
            let p = PathBuf::from(format!("{}.{ext}", a.output_key_prefix));
            if p.exists() {
                return Err(Error::Exists { path: p });
            }
        }
    }
    let password = read_password(&a.password, true)?;
    let key = SigningKey::generate()?;
    let (k, p) = keys::write_key_pair(&key, &password, &a.output_key_prefix, a.force)?;
    errln!("Private key written to {}", k.display());
    errln!("Public key written to {}", p.display());
    Ok(0)
}

fn image_ref(image: &str, store: &StoreArgs) -> Result<ImageRef, Error> {
    match &store.oci_layout {
        Some(path) => ImageRef::in_layout(&path.to_string_lossy(), image),
        None => ImageRef::parse(image),
    }
}

/// `--allow-http-registry` when no image is in a registry would be accepted and ignored.
fn warn_unused_http(allow_http: bool, images: &[&ImageRef]) {
    if allow_http && images.iter().all(|i| matches!(i, ImageRef::Layout(_))) {
        errln!("imgseal: warning: --allow-http-registry is not used: no image is in a registry");
    }
}

fn store_options(store: &StoreArgs) -> StoreOptions {
    StoreOptions {
        allow_http: store.allow_http_registry,
        ..StoreOptions::default()
    }
    .with_timeout(store.timeout.timeout)
}

async fn sign(a: SignArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    let pem = imgseal::keys::read_key_file(&a.key)?;
    let password = if SigningKey::pem_is_encrypted(&pem) {
        Some(read_password(&a.password, false)?)
    } else {
        if let Some(f) = &a.password.password_file {
            errln!(
                "imgseal: warning: --password-file {} is not used: {} is not encrypted",
                f.display(),
                a.key.display()
            );
        }
        None
    };
    let key = SigningKey::from_pem(
        &pem,
        password.as_deref().map(|p| p.as_slice()),
        &a.key.display().to_string(),
    )?;
    let annotations: BTreeMap<_, _> = a.annotations.into_iter().collect();
    let mut signer = Signer::new(key)
        .with_format(SignatureFormat::from(a.format))
        .with_expiry(a.expiry);
    if let Some(attach) = a.attach {
        signer = signer.with_attach(match attach {
            AttachArg::Tag => Attach::Tag,
            AttachArg::Referrers => Attach::Referrers,
            AttachArg::Both => Attach::Both,
        });
    }
    // Format, attachment and expiry that do not go together fail before any file is read.
    signer.check()?;
    let mut chain = Vec::new();
    for path in a.certificate.iter().chain(a.certificate_chain.iter()) {
        let bytes = imgseal::fsutil::read_capped(path, MAX_CERTIFICATE_FILE, "a certificate file")?;
        chain.extend(
            imgseal::x509::load_pem_certificates(&bytes)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?,
        );
    }
    let signed = signer
        .with_certificate_chain(chain)?
        .recursive(a.recursive)
        .with_options(store_options(&a.store))
        .sign(&image, &annotations)
        .await?;
    if a.recursive && !signed.manifests.iter().any(|m| m.platform.is_some()) {
        errln!(
            "imgseal: warning: --recursive had nothing to add: {} is not an image index listing platform manifests",
            a.image
        );
    }
    match a.output {
        Output::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&signed).unwrap_or_default()
        ),
        Output::Text => {
            for m in &signed.manifests {
                let what = match &m.platform {
                    Some(p) => format!("{} ({p})", m.digest),
                    None => m.digest.to_string(),
                };
                let mut places = Vec::new();
                if let Some(t) = &m.signature_tag {
                    places.push(format!("tag {t}"));
                }
                if let Some((d, scheme)) = &m.referrer {
                    places.push(format!("artifact {d} ({scheme})"));
                }
                let verb = if m.added {
                    "Signed"
                } else {
                    "Already signed (nothing added)"
                };
                errln!("{verb}: {what} -> {}", places.join(", "));
            }
            outln!("{}@{}", signed.identity, signed.digest);
        }
    }
    Ok(0)
}

/// Flags `verify --policy` cannot apply on top of the policy file, and what to do instead.
fn policy_conflicts(a: &VerifyArgs) -> Option<String> {
    let given = |name: &str, set: bool| set.then(|| name.to_string());
    let certificate = [
        given("--certificate-chain", a.certificate_chain.is_some()),
        given("--certificate-identity", a.certificate_identity.is_some()),
    ];
    let notation = [
        given("--trust-policy", a.trust_policy.is_some()),
        given("--trust-store", a.trust_store.is_some()),
    ];
    let flags = |v: &[Option<String>]| {
        v.iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let cert = flags(&certificate);
    if !cert.is_empty() {
        return Some(format!("{cert} cannot be combined with --policy: the policy file names who must sign; add an authority with certificateRoots (and identity) to it and list it in the rule, or drop --policy"));
    }
    let nota = flags(&notation);
    if !nota.is_empty() {
        return Some(format!("{nota} cannot be combined with --policy: the policy file names who must sign; add an authority with notation: {{trustPolicy, trustStore}} to it and list it in the rule, or drop --policy"));
    }
    if a.format.is_some() {
        return Some("--format cannot be combined with --policy: each rule's authorities decide which signature formats count (key and certificateRoots authorities: cosign; notation authorities: notation); change the rule, or drop --policy".into());
    }
    None
}

async fn verify(a: VerifyArgs) -> Result<u8, Error> {
    if let Some(policy) = &a.policy {
        if let Some(why) = policy_conflicts(&a) {
            return Err(Error::Usage(why));
        }
        return verify_policy(&a, policy).await;
    }
    if a.output == VerifyOutput::Sarif {
        return Err(Error::Usage("--output sarif is for verify --policy".into()));
    }
    if a.concurrency.is_some() {
        return Err(Error::Usage(
            "--concurrency is for verify --policy (several images); drop it when verifying one image".into(),
        ));
    }
    let [image] = a.image.as_slice() else {
        return Err(Error::Usage(
            "verify --key takes one image; to verify several, use --policy".into(),
        ));
    };
    let image = image_ref(image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    let mut keys = Vec::new();
    if let Some(k) = &a.key {
        keys.push((k.display().to_string(), PublicKey::from_file(k)?));
    }
    let certificates = match &a.certificate_chain {
        Some(roots) => Some(
            CertificateTrust::load(roots, a.certificate_identity.clone())?
                .with_subject(a.certificate_subject.clone()),
        ),
        None => None,
    };
    let notation = match (&a.trust_policy, &a.trust_store) {
        (Some(p), Some(d)) => Some(NotationTrust::load(p, d)?),
        _ => None,
    };
    let format = a.format.map(SignatureFormat::from);
    let can_cosign = !keys.is_empty() || certificates.is_some();
    match format {
        Some(SignatureFormat::Cosign) if !can_cosign => {
            return Err(Error::Usage(
                "--format cosign needs --key or --certificate-chain".into(),
            ))
        }
        Some(SignatureFormat::Notation) if notation.is_none() => {
            return Err(Error::Usage(
                "--format notation needs --trust-policy and --trust-store".into(),
            ))
        }
        _ => {}
    }
    let required: BTreeMap<_, _> = a.annotations.into_iter().collect();
    let v = Verifier::with_keys(keys)
        .with_certificate_trust(certificates)
        .with_notation_trust(notation)
        .with_format(format)
        .with_identity(a.identity.clone())
        .with_platform(a.platform.clone())
        .with_options(store_options(&a.store))
        .verify(&image, &required)
        .await?;
    if a.output == VerifyOutput::Json {
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    for w in v
        .warnings
        .iter()
        .chain(v.platform.iter().flat_map(|p| p.warnings.iter()))
    {
        errln!("imgseal: warning: {w}");
    }
    if let Some(part) = v.first_failed() {
        let mut why = part.failure_summary();
        if part.reason.is_none() && part.signatures.len() > imgseal::text::MAX_LISTED_REASONS {
            why.push_str(" (see --output json)");
        }
        errln!(
            "imgseal: verification failed for {} ({}): {why}",
            part.image,
            part.digest
        );
        return Ok(EXIT_FAILED);
    }
    if a.output == VerifyOutput::Text {
        errln!("\nVerification for {} --", v.image);
        errln!("The following checks were performed on each of these signatures:");
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign")
        {
            errln!("  - cosign: the claims were validated, the signature verified with the given key or a certificate chaining to the given roots, and the payload names this image's digest and repository");
            if !required.is_empty() {
                errln!("  - cosign: the required annotations are present");
            }
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign-bundle")
        {
            errln!("  - cosign bundle: the DSSE signature verified with the given key or a certificate chaining to the given roots, and the in-toto statement names this image's digest (transparency-log entries and timestamps in the bundle are not checked)");
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "notation")
        {
            errln!("  - notation: integrity, authenticity (trust store and trusted identities), expiry, authentic timestamp and revocation, in that order, as the trust policy's level requires");
        }
        errln!();
        for part in v.parts() {
            for s in part.signatures.iter().filter(|s| s.verified) {
                errln!(
                    "{} ({}): verified, found at {} ({} signature by {})",
                    part.image,
                    part.digest,
                    s.source,
                    s.format,
                    s.signed_by.as_deref().unwrap_or("?"),
                );
            }
            for p in part.verified_payloads() {
                outln!("{}", serde_json::to_string(p).unwrap_or_default());
            }
        }
    }
    Ok(0)
}

async fn tree(a: TreeArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    let mut keys = Vec::new();
    for k in &a.key {
        keys.push((k.display().to_string(), PublicKey::from_file(k)?));
    }
    let t = imgseal::tree::tree(&image, &store_options(&a.store), &keys).await?;
    for w in &t.warnings {
        errln!("imgseal: warning: {w}");
    }
    if a.output == Output::Json {
        outln!("{}", serde_json::to_string_pretty(&t).unwrap_or_default());
        return Ok(0);
    }
    outln!("{} ({}, {})", t.image, t.digest, t.media_type);
    for (p, d) in &t.platforms {
        outln!("  platform {p}: {d}");
    }
    if t.attachments.is_empty() {
        outln!("└── nothing attached");
    }
    let n = t.attachments.len();
    for (i, att) in t.attachments.iter().enumerate() {
        let (branch, pad) = if i + 1 == n {
            ("└──", "    ")
        } else {
            ("├──", "│   ")
        };
        let at = att
            .artifact_type
            .as_deref()
            .map(|t| format!(", artifactType {t}"))
            .unwrap_or_default();
        outln!(
            "{branch} {} via {} {} (manifest {}{at})",
            att.kind,
            att.scheme,
            att.location,
            att.digest
        );
        for (k, v) in &att.annotations {
            outln!("{pad}    annotation {k}={v}");
        }
        let m = att.layers.len();
        for (j, l) in att.layers.iter().enumerate() {
            let b = if j + 1 == m { "└──" } else { "├──" };
            let by = l
                .signed_by
                .as_deref()
                .map(|s| format!(", signed by {s}"))
                .unwrap_or_default();
            outln!(
                "{pad}{b} {} {} ({} bytes{by})",
                l.digest,
                l.media_type,
                l.size
            );
        }
    }
    Ok(0)
}

async fn copy(a: CopyArgs) -> Result<u8, Error> {
    let src = ImageRef::parse(&a.src)?;
    let dst = imgseal::copy::destination(&src, &a.dst)?;
    warn_unused_http(a.allow_http_registry, &[&src, &dst]);
    let options = StoreOptions {
        allow_http: a.allow_http_registry,
        ..StoreOptions::default()
    }
    .with_timeout(a.timeout.timeout);
    let r = imgseal::copy::copy(&src, &dst, &options).await?;
    for w in &r.warnings {
        errln!("imgseal: warning: {w}");
    }
    if a.output == Output::Json {
        outln!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        return Ok(0);
    }
    errln!("Copied {} ({}) -> {}", r.source, r.digest, r.destination);
    errln!(
        "  manifests: {} written, {} already there",
        r.manifests_copied.len(),
        r.manifests_skipped.len()
    );
    errln!(
        "  blobs: {} copied ({} bytes), {} mounted, {} already there",
        r.blobs_copied.len(),
        r.bytes_copied,
        r.blobs_mounted.len(),
        r.blobs_skipped.len()
    );
    for att in &r.attachments {
        let scheme = att.scheme.map(|s| format!(" via {s}")).unwrap_or_default();
        errln!(
            "  {} {} of {}: {}{scheme}",
            att.via,
            att.location,
            att.subject,
            att.outcome
        );
    }
    if r.attachments.is_empty() {
        errln!("  nothing attached to copy");
    }
    outln!("{}", r.pinned);
    Ok(0)
}

fn policy_validate(file: &std::path::Path) -> Result<u8, Error> {
    let (policy, warnings) = imgseal::policy::Policy::load(file)?;
    for w in &warnings {
        errln!("imgseal: warning: {w}");
    }
    outln!(
        "{}: valid ({} rules, {} authorities, defaultAction {:?})",
        file.display(),
        policy.file().rules.len(),
        policy.file().authorities.len(),
        policy.file().default_action
    );
    Ok(0)
}

async fn verify_policy(a: &VerifyArgs, file: &std::path::Path) -> Result<u8, Error> {
    use imgseal::policy::{Mode, Policy};
    let (policy, warnings) = Policy::load(file)?;
    for w in &warnings {
        errln!("imgseal: warning: {w}");
    }
    let images = a
        .image
        .iter()
        .map(|i| image_ref(i, &a.store))
        .collect::<Result<Vec<_>, _>>()?;
    warn_unused_http(
        a.store.allow_http_registry,
        &images.iter().collect::<Vec<_>>(),
    );
    let concurrency = match a.concurrency {
        Some(0) => return Err(Error::Usage("--concurrency must be at least 1".into())),
        Some(n) => n,
        None => 16,
    };
    // Flags that apply on top of the policy file, to every image's signature check.
    let policy = policy
        .with_options(store_options(&a.store))
        .with_required_annotations(a.annotations.iter().cloned().collect())
        .with_identity(a.identity.clone())
        .with_platform(a.platform.clone());
    let show_progress = images.len() > 5 && std::io::stderr().is_terminal();
    let decisions = policy
        .evaluate_many(&images, concurrency, |done, total| {
            if show_progress {
                err!("\r[{done}/{total}] images evaluated");
                if done == total {
                    errln!();
                }
            }
        })
        .await;
    let denied = decisions.iter().filter(|d| !d.allowed).count();
    match a.output {
        VerifyOutput::Sarif => outln!(
            "{}",
            serde_json::to_string_pretty(&sarif(&decisions)).unwrap_or_default()
        ),
        VerifyOutput::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "policy": file.display().to_string(),
                "allowed": denied == 0,
                "decisions": decisions,
            }))
            .unwrap_or_default()
        ),
        VerifyOutput::Text => {
            let width = decisions
                .iter()
                .map(|d| d.image.len())
                .max()
                .unwrap_or(5)
                .max(5);
            outln!(
                "{:<width$}  {:<8}  {:<7}  RULE",
                "IMAGE",
                "DECISION",
                "MODE"
            );
            for d in &decisions {
                let failed = d.checks.iter().any(|c| !c.passed);
                let decision = match (d.allowed, failed, d.mode) {
                    (false, _, _) => "DENY",
                    (true, true, Mode::Warn) => "WARN",
                    (true, true, Mode::Audit) => "AUDIT",
                    (true, _, _) => "ALLOW",
                };
                let mode = format!("{:?}", d.mode).to_lowercase();
                outln!(
                    "{:<width$}  {:<8}  {:<7}  {}",
                    d.image,
                    decision,
                    mode,
                    d.rule.as_deref().unwrap_or("(default)")
                );
                for c in &d.checks {
                    let mark = if c.passed { "ok  " } else { "FAIL" };
                    outln!("    {mark} {:<10} {}", c.name, c.reason);
                }
            }
            outln!(
                "{} images: {} allowed, {} denied",
                decisions.len(),
                decisions.len() - denied,
                denied
            );
        }
    }
    Ok(if denied > 0 { EXIT_FAILED } else { 0 })
}

/// Load the policy and manifests and judge every image (shared by `k8s verify` and `k8s pin`).
async fn k8s_report(a: &K8sArgs) -> Result<(imgseal::k8s::Manifests, imgseal::k8s::Report), Error> {
    use imgseal::policy::Policy;
    if a.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    let (policy, warnings) = Policy::load(&a.policy)?;
    for w in &warnings {
        errln!("imgseal: warning: {w}");
    }
    let policy = policy.with_options(
        StoreOptions {
            allow_http: a.allow_http_registry,
            ..StoreOptions::default()
        }
        .with_timeout(a.timeout.timeout),
    );
    let manifests = imgseal::k8s::Manifests::read(&a.filename)?;
    let report = imgseal::k8s::verify(&policy, &manifests, a.concurrency).await;
    for c in &report.containers {
        for w in &c.warnings {
            errln!("imgseal: warning: {}: {w}", c.object());
        }
    }
    Ok((manifests, report))
}

/// The word for one container's verdict.
fn verdict(allowed: bool, d: Option<&imgseal::policy::Decision>) -> &'static str {
    use imgseal::policy::Mode;
    let failed = d.is_some_and(|d| d.checks.iter().any(|c| !c.passed));
    match (allowed, failed, d.map(|d| d.mode)) {
        (false, _, _) => "DENY",
        (true, true, Some(Mode::Warn)) => "WARN",
        (true, true, Some(Mode::Audit)) => "AUDIT",
        (true, _, _) => "ALLOW",
    }
}

async fn k8s_verify(a: K8sVerifyArgs) -> Result<u8, Error> {
    let (_, report) = k8s_report(&a.k8s).await?;
    match a.output {
        VerifyOutput::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        VerifyOutput::Sarif => {
            let items: Vec<_> = report
                .containers
                .iter()
                .filter_map(|c| {
                    c.decision.as_ref().map(|d| {
                        (
                            d,
                            format!("{} {} container {}", c.object(), c.image, c.container),
                            serde_json::json!([{
                                "physicalLocation": {"artifactLocation": {"uri": c.file}},
                                "logicalLocations": [{"name": c.object(), "kind": "resource"}],
                            }]),
                        )
                    })
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&sarif_with(&items)).unwrap_or_default()
            )
        }
        VerifyOutput::Text => {
            for c in &report.containers {
                outln!(
                    "{}#{} {} {}: {}  {}",
                    c.file,
                    c.document,
                    c.object(),
                    c.container,
                    c.image,
                    verdict(c.allowed, c.decision.as_ref()),
                );
                if let Some(e) = &c.error {
                    outln!("    FAIL {:<10} {e}", "reference");
                }
                for ch in c.decision.iter().flat_map(|d| d.checks.iter()) {
                    let mark = if ch.passed { "ok  " } else { "FAIL" };
                    outln!("    {mark} {:<10} {}", ch.name, ch.reason);
                }
            }
            let denied = report.containers.iter().filter(|c| !c.allowed).count();
            outln!(
                "{} containers in {} workloads ({} other documents skipped), {} distinct images: {} allowed, {} denied",
                report.containers.len(),
                report.workloads,
                report.skipped,
                report.distinct_images,
                report.containers.len() - denied,
                denied
            );
        }
    }
    Ok(if report.allowed { 0 } else { EXIT_FAILED })
}

async fn k8s_pin(a: K8sPinArgs) -> Result<u8, Error> {
    let stdin = a.k8s.filename.iter().any(|f| f.as_os_str() == "-");
    if a.write && stdin {
        return Err(Error::Usage(
            "k8s pin -w rewrites files in place; standard input (-f -) has no file to rewrite: drop -w to print the result".into(),
        ));
    }
    let (manifests, report) = k8s_report(&a.k8s).await?;
    if !a.write && manifests.texts.len() > 1 {
        return Err(Error::Usage(format!(
            "k8s pin prints one file to standard output, and {} were given: give -w to rewrite them in place",
            manifests.texts.len()
        )));
    }
    if !report.allowed {
        for c in report.containers.iter().filter(|c| !c.allowed) {
            let why: Vec<String> = c
                .error
                .iter()
                .cloned()
                .chain(
                    c.decision
                        .iter()
                        .flat_map(|d| d.checks.iter())
                        .filter(|ch| !ch.passed)
                        .map(|ch| format!("{}: {}", ch.name, ch.reason)),
                )
                .collect();
            errln!(
                "imgseal: denied: {}#{} {} {}: {}: {}",
                c.file,
                c.document,
                c.object(),
                c.container,
                c.image,
                why.join("; ")
            );
        }
        errln!("imgseal: not pinning: the policy denies an image; no file was changed");
        return Ok(EXIT_FAILED);
    }
    let pinned = imgseal::k8s::pin(&manifests, &report)?;
    if a.write {
        for p in &pinned {
            if p.changed.is_empty() {
                continue;
            }
            let path = std::path::Path::new(&p.file);
            let mode = {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::metadata(path)
                    .map(|m| m.permissions().mode() & 0o7777)
                    .unwrap_or(0o644)
            };
            keys::write_file_atomic(path, p.text.as_bytes(), mode, true)?;
            for (from, to) in &p.changed {
                errln!("{}: {from} -> {to}", p.file);
            }
        }
    } else {
        // One file: print it, pinned or unchanged.
        let text = match pinned.first() {
            Some(p) => p.text.clone(),
            None => manifests.texts.values().next().cloned().unwrap_or_default(),
        };
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        for p in &pinned {
            for (from, to) in &p.changed {
                errln!("{}: {from} -> {to}", p.file);
            }
        }
    }
    Ok(0)
}

/// Write imgseal.1 and one page per (sub)command into `dir`.
fn man_pages(dir: &std::path::Path) -> Result<u8, Error> {
    use clap::CommandFactory as _;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    fn write(dir: &std::path::Path, cmd: clap::Command, name: String) -> Result<usize, Error> {
        let cmd = cmd
            .display_name(name.clone())
            .bin_name(name.replace('-', " "));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .render(&mut page)
            .map_err(|e| Error::Usage(format!("cannot render the man page {name}: {e}")))?;
        let path = dir.join(format!("{name}.1"));
        keys::write_file_atomic(&path, &page, 0o644, true)?;
        let mut n = 1;
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            n += write(dir, sub.clone(), format!("{name}-{}", sub.get_name()))?;
        }
        Ok(n)
    }
    let n = write(dir, Cli::command(), "imgseal".to_string())?;
    errln!("{n} man pages written to {}", dir.display());
    Ok(0)
}

async fn admission_serve(a: ServeArgs) -> Result<u8, Error> {
    if a.cache_size == 0 || a.concurrency == 0 {
        return Err(Error::Usage(
            "--cache-size and --concurrency must be at least 1".into(),
        ));
    }
    if a.budget.is_zero() || a.reload_interval.is_zero() {
        return Err(Error::Usage(
            "--budget and --reload-interval must be longer than zero".into(),
        ));
    }
    let config = imgseal::webhook::ServeConfig {
        policy: a.policy,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        addr: a.addr,
        review: imgseal::admission::ReviewOptions {
            exempt_namespaces: a.exempt_namespace,
            mutate: false,
            budget: a.budget,
            fail_open: a.failure_policy == FailurePolicy::Allow,
            concurrency: a.concurrency,
            cache: None,
        },
        store: StoreOptions {
            allow_http: a.allow_http_registry,
            ..StoreOptions::default()
        },
        cache_ttl: a.cache_ttl,
        tag_ttl: a.tag_ttl,
        cache_size: a.cache_size,
        reload_every: a.reload_interval,
    };
    imgseal::webhook::serve(config).await?;
    Ok(0)
}

fn cert_generate_test(
    name: &str,
    trust_store: Option<&std::path::Path>,
    force: bool,
    password: &PasswordArgs,
) -> Result<u8, Error> {
    let key_path = PathBuf::from(format!("{name}.key"));
    let crt_path = PathBuf::from(format!("{name}.crt"));
    let root_path = PathBuf::from(format!("{name}-root.crt"));
    if !force {
        for p in [&key_path, &crt_path, &root_path] {
            if p.exists() {
                return Err(Error::Exists { path: p.clone() });
            }
        }
    }
    let password = read_password(password, true)?;
    let pki = imgseal::x509::generate_test(name)?;
    let key = SigningKey::from_pem(pki.leaf_key_pem.as_bytes(), None, "generated key")?;
    let pem = key.to_cosign_encrypted_pem(&password)?;
    keys::write_file_atomic(&key_path, pem.as_bytes(), 0o600, force)?;
    keys::write_file_atomic(&crt_path, pki.chain_pem().as_bytes(), 0o644, force)?;
    keys::write_file_atomic(&root_path, pki.root_pem.as_bytes(), 0o644, force)?;
    errln!("Private key written to {} (encrypted)", key_path.display());
    errln!(
        "Certificate chain (leaf, root) written to {}",
        crt_path.display()
    );
    errln!("Root certificate written to {}", root_path.display());
    if let Some(dir) = trust_store {
        imgseal::trust::layout::add_certificate(
            dir,
            imgseal::trust::StoreType::Ca,
            name,
            &format!("{name}-root.crt"),
            pki.root_pem.as_bytes(),
        )?;
        errln!("Root added to trust store {} as ca:{name}", dir.display());
    }
    Ok(0)
}

/// Policy decisions as SARIF 2.1.0: one result per failed check, `error` in enforce mode,
/// `warning` in warn mode, `note` in audit mode, located at the image.
fn sarif(decisions: &[imgseal::policy::Decision]) -> serde_json::Value {
    let items: Vec<_> = decisions
        .iter()
        .map(|d| {
            (
                d,
                d.image.clone(),
                serde_json::json!([{"logicalLocations": [{"name": d.image, "kind": "resource"}]}]),
            )
        })
        .collect();
    sarif_with(&items)
}

/// SARIF for decisions, each with the subject named in messages and its SARIF `locations`.
fn sarif_with(
    items: &[(&imgseal::policy::Decision, String, serde_json::Value)],
) -> serde_json::Value {
    use imgseal::policy::Mode;
    let mut rules = std::collections::BTreeSet::new();
    let mut results = Vec::new();
    for (d, subject, locations) in items {
        for c in d.checks.iter().filter(|c| !c.passed) {
            rules.insert(c.name.clone());
            let level = match d.mode {
                Mode::Enforce => "error",
                Mode::Warn => "warning",
                Mode::Audit => "note",
            };
            results.push(serde_json::json!({
                "ruleId": c.name,
                "level": level,
                "message": {"text": format!("{subject}: {}", c.reason)},
                "locations": locations,
                "properties": {"rule": d.rule, "digest": d.digest, "allowed": d.allowed},
            }));
        }
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "imgseal",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|r| serde_json::json!({"id": r, "shortDescription": {"text": format!("imgseal policy check: {r}")}})).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
