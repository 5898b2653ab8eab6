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
}

#[derive(Args, Debug)]
struct CopyArgs {
    /// Allow plain HTTP to SRC's and DST's registries even though they are not on loopback.
    #[arg(long)]
    allow_http_registry: bool,
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
struct StoreArgs {
    /// Allow plain HTTP to this image's registry even though it is not on loopback.
    #[arg(long)]
    allow_http_registry: bool,
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
    /// Signing certificate (PEM) for the key: cosign's key-in-certificate mode.
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
    /// cosign certificate mode: identity the signing certificate must carry (SAN email, URI or
    /// DNS name, CN, or subject DN).
    #[arg(long, value_name = "IDENTITY", requires = "certificate_chain")]
    certificate_identity: Option<String>,
    /// Notary Project trust policy (notation's trustpolicy.json, accepted unchanged).
    #[arg(long, value_name = "FILE", requires = "trust_store")]
    trust_policy: Option<PathBuf>,
    /// Notary Project trust store directory (holding x509/ca/<name>/…).
    #[arg(long, value_name = "DIR", requires = "trust_policy")]
    trust_store: Option<PathBuf>,
    /// Only check signatures of this format (default: every format there is trust material for).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Evaluate the images against this policy file instead of one key.
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    policy: Option<PathBuf>,
    /// Accept signatures that name this repository (e.g. registry.example/app) instead of the
    /// image's own: for a mirror or copy, whose signatures name the repository they were made in.
    #[arg(long, value_name = "REPOSITORY")]
    identity: Option<String>,
    /// With --policy: how many images to resolve and verify at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    concurrency: usize,
    /// Annotation every accepted signature must carry (repeatable).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    annotations: Vec<(String, String)>,
    #[command(flatten)]
    store: StoreArgs,
    /// For an image index, also verify the platform manifest for OS/ARCH[/VARIANT].
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

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 24h, 30d or 3600s"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?} is not a duration like 24h, 30d or 3600s")),
    };
    Ok(std::time::Duration::from_secs(secs))
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
            eprintln!("imgseal: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("imgseal: error: {e}");
            ExitCode::from(if e.is_integrity_failure() {
                EXIT_FAILED
            } else {
                EXIT_ERROR
            })
        }
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
    eprintln!("Private key written to {}", k.display());
    eprintln!("Public key written to {}", p.display());
    Ok(0)
}

fn image_ref(image: &str, store: &StoreArgs) -> Result<ImageRef, Error> {
    match &store.oci_layout {
        Some(path) => ImageRef::in_layout(&path.to_string_lossy(), image),
        None => ImageRef::parse(image),
    }
}

fn store_options(store: &StoreArgs) -> StoreOptions {
    StoreOptions {
        allow_http: store.allow_http_registry,
        ..StoreOptions::default()
    }
}

async fn sign(a: SignArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    let pem = imgseal::keys::read_key_file(&a.key)?;
    let password = if SigningKey::pem_is_encrypted(&pem) {
        Some(read_password(&a.password, false)?)
    } else {
        None
    };
    let key = SigningKey::from_pem(
        &pem,
        password.as_deref().map(|p| p.as_slice()),
        &a.key.display().to_string(),
    )?;
    let annotations: BTreeMap<_, _> = a.annotations.into_iter().collect();
    let format = SignatureFormat::from(a.format);
    let attach = match (a.attach, format) {
        (None | Some(AttachArg::Tag), SignatureFormat::Cosign) => Attach::Tag,
        (Some(AttachArg::Referrers), _) | (None, SignatureFormat::Notation) => Attach::Referrers,
        (Some(AttachArg::Both), SignatureFormat::Cosign) => Attach::Both,
        (Some(_), SignatureFormat::Notation) => {
            return Err(Error::Usage(
                "notation signatures are attached as OCI 1.1 referrers only; drop --attach or use --attach referrers".into(),
            ))
        }
    };
    let mut chain = Vec::new();
    for path in a.certificate.iter().chain(a.certificate_chain.iter()) {
        let bytes = imgseal::fsutil::read_capped(path, MAX_CERTIFICATE_FILE, "a certificate file")?;
        chain.extend(
            imgseal::x509::load_pem_certificates(&bytes)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?,
        );
    }
    if a.expiry.is_some() && format != SignatureFormat::Notation {
        return Err(Error::Usage(
            "--expiry applies to --format notation only".into(),
        ));
    }
    let signed = Signer::new(key)
        .with_format(format)
        .with_certificate_chain(chain)?
        .with_expiry(a.expiry)
        .with_attach(attach)
        .recursive(a.recursive)
        .with_options(store_options(&a.store))
        .sign(&image, &annotations)
        .await?;
    match a.output {
        Output::Json => println!(
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
                eprintln!("{verb}: {what} -> {}", places.join(", "));
            }
            println!("{}@{}", signed.identity, signed.digest);
        }
    }
    Ok(0)
}

async fn verify(a: VerifyArgs) -> Result<u8, Error> {
    if let Some(policy) = &a.policy {
        return verify_policy(&a, policy).await;
    }
    if a.output == VerifyOutput::Sarif {
        return Err(Error::Usage("--output sarif is for verify --policy".into()));
    }
    let [image] = a.image.as_slice() else {
        return Err(Error::Usage(
            "verify --key takes one image; to verify several, use --policy".into(),
        ));
    };
    let image = image_ref(image, &a.store)?;
    let mut keys = Vec::new();
    if let Some(k) = &a.key {
        keys.push((k.display().to_string(), PublicKey::from_file(k)?));
    }
    let certificates = match &a.certificate_chain {
        Some(roots) => Some(CertificateTrust::load(
            roots,
            a.certificate_identity.clone(),
        )?),
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
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    for w in v
        .warnings
        .iter()
        .chain(v.platform.iter().flat_map(|p| p.warnings.iter()))
    {
        eprintln!("imgseal: warning: {w}");
    }
    for part in std::iter::once(&v).chain(v.platform.as_deref()) {
        // Judge each part by its own signatures: the index's `verified` includes its platform's
        // (a notation `skip` level verifies with no signature at all).
        let own = part.signatures.iter().any(|s| s.verified)
            || (part.signatures.is_empty() && !part.verified_by.is_empty());
        if !own {
            let why = match &part.reason {
                Some(r) => r.clone(),
                None => part
                    .signatures
                    .iter()
                    .map(|s| {
                        format!(
                            "{}: {}",
                            s.source,
                            s.failure.as_deref().unwrap_or("not valid")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            eprintln!(
                "imgseal: verification failed for {} ({}): {why}",
                part.image, part.digest
            );
            return Ok(EXIT_FAILED);
        }
    }
    if a.output == VerifyOutput::Text {
        eprintln!("\nVerification for {} --", v.image);
        eprintln!("The following checks were performed on each of these signatures:");
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign")
        {
            eprintln!("  - cosign: the claims were validated, the signature verified with the given key or a certificate chaining to the given roots, and the payload names this image's digest and repository");
            if !required.is_empty() {
                eprintln!("  - cosign: the required annotations are present");
            }
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign-bundle")
        {
            eprintln!("  - cosign bundle: the DSSE signature verified with the given key or a certificate chaining to the given roots, and the in-toto statement names this image's digest (transparency-log entries and timestamps in the bundle are not checked)");
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "notation")
        {
            eprintln!("  - notation: integrity, authenticity (trust store and trusted identities), authentic timestamp and expiry, as the trust policy's level requires");
        }
        eprintln!();
        for part in std::iter::once(&v).chain(v.platform.as_deref()) {
            for s in part.signatures.iter().filter(|s| s.verified) {
                eprintln!(
                    "{} ({}): verified, found at {} ({} signature by {})",
                    part.image,
                    part.digest,
                    s.source,
                    s.format,
                    s.signed_by.as_deref().unwrap_or("?"),
                );
            }
            for p in part.verified_payloads() {
                println!("{}", serde_json::to_string(p).unwrap_or_default());
            }
        }
    }
    Ok(0)
}

async fn tree(a: TreeArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    let mut keys = Vec::new();
    for k in &a.key {
        keys.push((k.display().to_string(), PublicKey::from_file(k)?));
    }
    let t = imgseal::tree::tree(&image, &store_options(&a.store), &keys).await?;
    for w in &t.warnings {
        eprintln!("imgseal: warning: {w}");
    }
    if a.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&t).unwrap_or_default());
        return Ok(0);
    }
    println!("{} ({}, {})", t.image, t.digest, t.media_type);
    for (p, d) in &t.platforms {
        println!("  platform {p}: {d}");
    }
    if t.attachments.is_empty() {
        println!("└── nothing attached");
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
        println!(
            "{branch} {} via {} {} (manifest {}{at})",
            att.kind, att.scheme, att.location, att.digest
        );
        for (k, v) in &att.annotations {
            println!("{pad}    annotation {k}={v}");
        }
        let m = att.layers.len();
        for (j, l) in att.layers.iter().enumerate() {
            let b = if j + 1 == m { "└──" } else { "├──" };
            let by = l
                .signed_by
                .as_deref()
                .map(|s| format!(", signed by {s}"))
                .unwrap_or_default();
            println!(
                "{pad}{b} {} {} ({} bytes{by})",
                l.digest, l.media_type, l.size
            );
        }
    }
    Ok(0)
}

async fn copy(a: CopyArgs) -> Result<u8, Error> {
    let src = ImageRef::parse(&a.src)?;
    let dst = imgseal::copy::destination(&src, &a.dst)?;
    let options = StoreOptions {
        allow_http: a.allow_http_registry,
        ..StoreOptions::default()
    };
    let r = imgseal::copy::copy(&src, &dst, &options).await?;
    for w in &r.warnings {
        eprintln!("imgseal: warning: {w}");
    }
    if a.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        return Ok(0);
    }
    eprintln!("Copied {} ({}) -> {}", r.source, r.digest, r.destination);
    eprintln!(
        "  manifests: {} written, {} already there",
        r.manifests_copied.len(),
        r.manifests_skipped.len()
    );
    eprintln!(
        "  blobs: {} copied ({} bytes), {} mounted, {} already there",
        r.blobs_copied.len(),
        r.bytes_copied,
        r.blobs_mounted.len(),
        r.blobs_skipped.len()
    );
    for att in &r.attachments {
        let scheme = att.scheme.map(|s| format!(" via {s}")).unwrap_or_default();
        eprintln!(
            "  {} {} of {}: {}{scheme}",
            att.via, att.location, att.subject, att.outcome
        );
    }
    if r.attachments.is_empty() {
        eprintln!("  nothing attached to copy");
    }
    println!("{}", r.pinned);
    Ok(0)
}

fn policy_validate(file: &std::path::Path) -> Result<u8, Error> {
    let (policy, warnings) = imgseal::policy::Policy::load(file)?;
    for w in &warnings {
        eprintln!("imgseal: warning: {w}");
    }
    println!(
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
        eprintln!("imgseal: warning: {w}");
    }
    let images = a
        .image
        .iter()
        .map(|i| image_ref(i, &a.store))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = policy.with_options(store_options(&a.store));
    let show_progress = images.len() > 5 && std::io::stderr().is_terminal();
    let decisions = policy
        .evaluate_many(&images, a.concurrency, |done, total| {
            if show_progress {
                eprint!("\r[{done}/{total}] images evaluated");
                if done == total {
                    eprintln!();
                }
            }
        })
        .await;
    let denied = decisions.iter().filter(|d| !d.allowed).count();
    match a.output {
        VerifyOutput::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&sarif(&decisions)).unwrap_or_default()
        ),
        VerifyOutput::Json => println!(
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
            println!(
                "{:<width$}  {:<8}  {:<7}  RULE",
                "IMAGE", "DECISION", "MODE"
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
                println!(
                    "{:<width$}  {:<8}  {:<7}  {}",
                    d.image,
                    decision,
                    mode,
                    d.rule.as_deref().unwrap_or("(default)")
                );
                for c in &d.checks {
                    let mark = if c.passed { "ok  " } else { "FAIL" };
                    println!("    {mark} {:<10} {}", c.name, c.reason);
                }
            }
            println!(
                "{} images: {} allowed, {} denied",
                decisions.len(),
                decisions.len() - denied,
                denied
            );
        }
    }
    Ok(if denied > 0 { EXIT_FAILED } else { 0 })
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
    eprintln!("Private key written to {} (encrypted)", key_path.display());
    eprintln!(
        "Certificate chain (leaf, root) written to {}",
        crt_path.display()
    );
    eprintln!("Root certificate written to {}", root_path.display());
    if let Some(dir) = trust_store {
        let store_dir = dir.join("x509").join("ca").join(name);
        std::fs::create_dir_all(&store_dir)
            .map_err(|e| Error::Usage(format!("cannot create {}: {e}", store_dir.display())))?;
        let dest = store_dir.join(format!("{name}-root.crt"));
        keys::write_file_atomic(&dest, pki.root_pem.as_bytes(), 0o644, true)?;
        eprintln!("Root added to trust store {} as ca:{name}", dir.display());
    }
    Ok(0)
}

/// Policy decisions as SARIF 2.1.0: one result per failed check, `error` in enforce mode,
/// `warning` in warn mode, `note` in audit mode, located at the image.
fn sarif(decisions: &[imgseal::policy::Decision]) -> serde_json::Value {
    use imgseal::policy::Mode;
    let mut rules = std::collections::BTreeSet::new();
    let mut results = Vec::new();
    for d in decisions {
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
                "message": {"text": format!("{}: {}", d.image, c.reason)},
                "locations": [{"logicalLocations": [{"name": d.image, "kind": "resource"}]}],
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
