//! The command line: every flag defined once, with its docs (clap derive); `--help`, the man
//! pages and the shell completions are generated from these definitions.

use super::*;

#[derive(Parser, Debug)]
#[command(
    name = "imgseal",
    version,
    about = "Sign container images and verify them before they run (cosign and Notary Project formats).",
    after_help = concat!(
        "Examples:\n",
        "  imgseal generate-key-pair\n",
        "  imgseal sign --key imgseal.key registry.example/app:1.0\n",
        "  imgseal verify --key imgseal.pub registry.example/app:1.0\n",
        "  imgseal help verify\n",
        "\nExit codes: 0 success; 1 verification failed; 2 usage, configuration, I/O or registry error.",
    )
)]
pub(crate) struct Cli {
    /// Say what is being done on stderr: each registry request (method, URL, status, time), where
    /// credentials and passwords came from. RUST_LOG (e.g. RUST_LOG=imgseal=debug) selects finer.
    #[arg(short = 'd', long, global = true)]
    pub(crate) verbose: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Generate an ECDSA P-256 key pair: PREFIX.key (cosign's encrypted format, mode 0600) and PREFIX.pub.
    GenerateKeyPair(GenerateArgs),
    /// Sign an image and attach the signature (cosign .sig tag, OCI 1.1 referrer, or a notation signature).
    Sign(SignArgs),
    /// Verify an image's signatures against a public key, or images against a policy.
    Verify(Box<VerifyArgs>),
    /// Verify a file (or a sha256:HEX digest) against a Sigstore bundle, offline, with a pinned trusted root.
    VerifyBlob(VerifyBlobArgs),
    /// Work with Sigstore trusted roots (trusted_root.json).
    #[command(subcommand)]
    TrustedRoot(TrustedRootCommand),
    /// Sign a predicate (scan result, SBOM, provenance) about an image as an in-toto
    /// attestation and attach it (cosign .att tag, or a Sigstore bundle referrer).
    Attest(AttestArgs),
    /// Verify an image's attestations of one predicate type and print the verified statements.
    VerifyAttestation(VerifyAttestationArgs),
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
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal completion bash\n",
        "  imgseal completion zsh > _imgseal\n",
        "  imgseal completion fish\n",
        "\nExit codes: 0 printed; 2 an unknown shell.",
    ))]
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages for imgseal and each of its commands into DIR (imgseal.1, imgseal-sign.1, …).
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal man man\n",
        "  man -l man/imgseal-verify.1\n",
        "\nExit codes: 0 success; 2 usage, configuration or I/O error.",
    ))]
    Man {
        /// Directory for the pages (created when missing).
        dir: PathBuf,
    },
    /// Store registry credentials in docker's config.json (as `docker login`; read by every tool).
    #[command(
        after_help = "Examples:\n  echo \"$TOKEN\" | imgseal login ghcr.io -u octocat --password-stdin\n  echo \"$REGISTRY_PASSWORD\" | imgseal login registry.example -u ci --password-stdin\n\nExit codes: 0 success; 2 usage, configuration or I/O error."
    )]
    Login(LoginArgs),
    /// Remove a registry's credentials from docker's config.json.
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal logout registry.example\n",
        "\nExit codes: 0 removed (or there was nothing to remove); 2 usage, configuration or I/O error (a malformed config.json).",
    ))]
    Logout {
        /// The registry host, e.g. registry.example:5000.
        server: String,
    },
    /// Print the public key of a private key file (as `cosign public-key`).
    #[command(
        after_help = "Examples:\n  imgseal public-key --key imgseal.key\n  imgseal public-key --key imgseal.key --outfile imgseal-copy.pub\n\nExit codes: 0 success; 2 usage, configuration or I/O error."
    )]
    PublicKey(PublicKeyArgs),
    /// Print imgseal's version, build and supported formats.
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal version\n",
        "  imgseal version --json\n",
        "\nExit codes: 0 success.",
    ))]
    Version {
        /// Print JSON (schemaVersion, version, gitCommit, rustVersion, platform, signatureFormats).
        #[arg(long)]
        json: bool,
    },
    #[command(hide = true)]
    Save(ForeignArgs),
    #[command(hide = true)]
    Load(ForeignArgs),
    #[command(hide = true)]
    Triangulate(ForeignArgs),
    #[command(hide = true)]
    Download(ForeignArgs),
    #[command(hide = true)]
    Inspect(ForeignArgs),
    #[command(hide = true, alias = "ls")]
    List(ForeignArgs),
}

/// The arguments of a cosign or notation verb imgseal names differently (ignored: the verb
/// answers with the imgseal way to do it).
#[derive(Args, Debug)]
pub(crate) struct ForeignArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub(crate) rest: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct LoginArgs {
    /// The registry host, e.g. ghcr.io or registry.example:5000.
    pub(crate) server: String,
    /// Username.
    #[arg(short = 'u', long)]
    pub(crate) username: String,
    /// Password (visible to other users in the process list; prefer --password-stdin).
    #[arg(short = 'p', long)]
    pub(crate) password: Option<String>,
    /// Read the password from standard input (its first line).
    #[arg(long)]
    pub(crate) password_stdin: bool,
}

#[derive(Args, Debug)]
pub(crate) struct PublicKeyArgs {
    /// The private key (cosign's encrypted format, or an unencrypted PKCS#8 key): a file, or
    /// env://VAR for the PEM text in environment variable VAR.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// Write the public key to this file (mode 0644) instead of standard output.
    #[arg(long = "outfile", value_name = "FILE")]
    pub(crate) outfile: Option<PathBuf>,
    /// Replace an existing --outfile.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}

#[derive(Subcommand, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal admission serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key\n",
    "\nExit codes: 0 stopped (SIGTERM or SIGINT); 2 cannot start: a bad policy or TLS file, or the address is in use.",
))]
pub(crate) enum AdmissionCommand {
    /// Serve /validate and /mutate (AdmissionReview v1) over HTTPS, with /healthz, /readyz
    /// and /metrics; the policy and the TLS files are reloaded when they change.
    Serve(ServeArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailurePolicy {
    /// deny the request when the review budget runs out
    Deny,
    /// allow it (with a warning)
    Allow,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal admission serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key\n",
    "  imgseal admission serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key --failure-policy allow --exempt-namespace kube-system --exempt-namespace monitoring\n",
    "\nExit codes: 0 stopped (SIGTERM or SIGINT); 2 cannot start: a bad policy or TLS file, or the address is in use.",
))]
pub(crate) struct ServeArgs {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,
    /// TLS certificate chain (PEM), reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_cert: PathBuf,
    /// TLS private key (PEM), reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_key: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:8443")]
    pub(crate) addr: std::net::SocketAddr,
    /// Time for one review; keep it below the webhook's timeoutSeconds (default 10s).
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = parse_duration)]
    pub(crate) budget: std::time::Duration,
    /// What a review that runs out of budget answers.
    #[arg(long, value_enum, default_value_t = FailurePolicy::Deny)]
    pub(crate) failure_policy: FailurePolicy,
    /// Namespace whose requests are allowed unexamined (repeatable; replaces the default).
    #[arg(long, value_name = "NAMESPACE", default_values_t = ["kube-system".to_string()])]
    pub(crate) exempt_namespace: Vec<String>,
    /// How long a verified decision is reused.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub(crate) cache_ttl: std::time::Duration,
    /// How long a tag's digest is reused.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub(crate) tag_ttl: std::time::Duration,
    /// Most decisions held.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub(crate) cache_size: usize,
    /// Images verified at once per review.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// How often the policy and TLS files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub(crate) reload_interval: std::time::Duration,
    /// Allow plain HTTP to registries that are not on loopback.
    #[arg(long)]
    pub(crate) allow_http_registry: bool,
}

#[derive(Subcommand, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal k8s verify --policy policy.yaml -f deploy.yaml\n",
    "  imgseal k8s pin --policy policy.yaml -f deploy.yaml -w\n",
    "\nExit codes: 0 every image is allowed; 1 an image is denied; 2 usage, configuration, I/O or registry error (a malformed manifest or policy, an image not found).",
))]
pub(crate) enum K8sCommand {
    /// Verify every image of every workload in manifests (files, directories, - for stdin)
    /// against a policy; each distinct image is evaluated once.
    Verify(K8sVerifyArgs),
    /// Rewrite each image that passes the policy to repo:tag@sha256:…, changing nothing else
    /// in the file; refuses (exit 1, file untouched) when any image is denied.
    Pin(K8sPinArgs),
}

#[derive(Args, Debug)]
pub(crate) struct K8sArgs {
    /// Manifest file, directory (recursive: *.yaml, *.yml, *.json) or - for standard input
    /// (repeatable).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    pub(crate) filename: Vec<PathBuf>,
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,
    /// How many images to resolve and verify at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Allow plain HTTP to registries that are not on loopback.
    #[arg(long, help_heading = "Registry")]
    pub(crate) allow_http_registry: bool,
    #[command(flatten)]
    pub(crate) auth: RegistryAuthArgs,
    #[command(flatten)]
    pub(crate) timeout: TimeoutArgs,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal k8s verify --policy policy.yaml -f deploy.yaml\n",
    "  imgseal k8s verify --policy policy.yaml -f deploy.yaml -o json\n",
    "\nExit codes: 0 every image is allowed; 1 an image is denied; 2 usage, configuration, I/O or registry error (a malformed manifest or policy, an image not found).",
))]
pub(crate) struct K8sVerifyArgs {
    #[command(flatten)]
    pub(crate) k8s: K8sArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = VerifyOutput::Text, help_heading = "Output")]
    pub(crate) output: VerifyOutput,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal k8s pin --policy policy.yaml -f deploy.yaml\n",
    "  imgseal k8s pin --policy policy.yaml -f deploy.yaml -w\n",
    "\nExit codes: 0 every image is allowed and pinned; 1 an image is denied (nothing is written); 2 usage, configuration, I/O or registry error.",
))]
pub(crate) struct K8sPinArgs {
    #[command(flatten)]
    pub(crate) k8s: K8sArgs,
    /// Rewrite the files in place (atomically) instead of printing the result.
    #[arg(short = 'w', long)]
    pub(crate) write: bool,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal copy registry.example/app:1.0 registry.example/mirror/app:1.0\n",
    "  imgseal copy registry.example/app:1.0 oci:airgap\n",
    "  imgseal copy oci:airgap:registry.example/app:1.0 registry.example/airgap/app:1.0\n",
    "\nExit codes: 0 copied; 1 content that does not match its digest; 2 usage, configuration, I/O or registry error.",
))]
pub(crate) struct CopyArgs {
    /// Allow plain HTTP to SRC's and DST's registries even though they are not on loopback.
    #[arg(long, help_heading = "Registry")]
    pub(crate) allow_http_registry: bool,
    /// Move DST's tag when it already names another image (refused without it).
    #[arg(short = 'f', long)]
    pub(crate) force: bool,
    /// Copy only these attachments (comma-separated): sig (signatures), att (attestations),
    /// sbom. Default: every attachment, referrers of other artifact types included.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS")]
    pub(crate) only: Vec<OnlyArg>,
    /// From an image index, copy only the manifest of this platform (OS/ARCH[/VARIANT]) with
    /// its signatures and other attachments, in place of the index (as crane copy --platform).
    #[arg(long, value_name = "OS/ARCH")]
    pub(crate) platform: Option<String>,
    #[command(flatten)]
    pub(crate) auth: RegistryAuthArgs,
    #[command(flatten)]
    pub(crate) timeout: TimeoutArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text, help_heading = "Output")]
    pub(crate) output: Output,
    /// Source image: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout.
    pub(crate) src: String,
    /// Destination: host/repo[:tag][@digest] or oci:PATH[:REF]. Without a tag, SRC's tag (into a
    /// layout: SRC's full reference as ref name). A missing layout directory is created.
    pub(crate) dst: String,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal tree registry.example/app:1.0\n",
    "  imgseal tree --key imgseal.pub -o json oci:build/app:v1\n",
    "\nExit codes: 0 listed (signed or not: tree verifies nothing); 2 usage, configuration, I/O or registry error (image not found, registry unreachable or refusing access, -t/--timeout reached).",
))]
pub(crate) struct TreeArgs {
    /// Public keys to attribute signatures to (repeatable).
    #[arg(long, value_name = "PUBKEY")]
    pub(crate) key: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// Image: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout.
    pub(crate) image: String,
}

/// `copy --only`: which attachments to copy.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnlyArg {
    /// signatures (.sig tags, signature referrers, cosign sign bundles)
    Sig,
    /// attestations (.att tags, in-toto referrers and bundles)
    Att,
    /// SBOMs (.sbom tags, SPDX/CycloneDX referrers)
    Sbom,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum AttachArg {
    /// cosign's sha256-<hex>.sig tag (read by every cosign verifier)
    Tag,
    /// an OCI 1.1 artifact with subject (referrers API, or its tag-schema fallback)
    Referrers,
    /// both
    Both,
}

#[derive(Args, Debug)]
pub(crate) struct PasswordArgs {
    /// Read the key password from this file (first line). Otherwise IMGSEAL_PASSWORD or
    /// COSIGN_PASSWORD, otherwise a prompt on the terminal.
    #[arg(long, value_name = "FILE", help_heading = "Key")]
    pub(crate) password_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal generate-key-pair\n",
    "  imgseal generate-key-pair --output-key-prefix release\n",
    "\nExit codes: 0 success; 2 usage, configuration or I/O error (PREFIX.key or PREFIX.pub exists and --force is not given).",
))]
pub(crate) struct GenerateArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "imgseal")]
    pub(crate) output_key_prefix: String,
    /// Replace existing key files.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}

#[derive(Args, Debug)]
pub(crate) struct TimeoutArgs {
    /// Give up when the whole command has not finished in this long (e.g. 30s, 3m, 1h, 1m30s),
    /// as cosign's --timeout.
    #[arg(short = 't', long = "timeout", value_name = "DURATION", default_value = "3m", value_parser = parse_timeout, help_heading = "Registry")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Args, Debug)]
pub(crate) struct StoreArgs {
    /// Allow plain HTTP to this image's registry even though it is not on loopback.
    #[arg(long, help_heading = "Registry")]
    pub(crate) allow_http_registry: bool,
    #[command(flatten)]
    pub(crate) auth: RegistryAuthArgs,
    #[command(flatten)]
    pub(crate) timeout: TimeoutArgs,
    /// Treat IMAGE as a ref name (or @digest) inside the OCI image layout at PATH.
    #[arg(long, value_name = "PATH", help_heading = "Registry")]
    pub(crate) oci_layout: Option<PathBuf>,
}

/// Credentials for this run, sent to every registry it talks to (as cosign's flags); without
/// them docker's config.json, then podman's auth.json, are used.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct RegistryAuthArgs {
    /// Registry username (with --registry-password).
    #[arg(
        long,
        value_name = "USER",
        env = "IMGSEAL_REGISTRY_USERNAME",
        help_heading = "Registry"
    )]
    pub(crate) registry_username: Option<String>,
    /// Registry password or access token (with --registry-username).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "IMGSEAL_REGISTRY_PASSWORD",
        hide_env_values = true,
        help_heading = "Registry"
    )]
    pub(crate) registry_password: Option<String>,
    /// Registry bearer token, sent as it is when a registry asks for a bearer token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "IMGSEAL_REGISTRY_TOKEN",
        hide_env_values = true,
        help_heading = "Registry"
    )]
    pub(crate) registry_token: Option<String>,
    /// CA certificate(s) (PEM) trusted for registries besides the system's; means HTTPS, loopback included.
    #[arg(long, value_name = "FILE", help_heading = "Registry")]
    pub(crate) registry_cacert: Option<PathBuf>,
    /// Client certificate (PEM) for registries that require mutual TLS (with --registry-client-key).
    #[arg(
        long,
        value_name = "FILE",
        requires = "registry_client_key",
        help_heading = "Registry"
    )]
    pub(crate) registry_client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, unencrypted).
    #[arg(
        long,
        value_name = "FILE",
        requires = "registry_client_cert",
        help_heading = "Registry"
    )]
    pub(crate) registry_client_key: Option<PathBuf>,
    /// Do not verify registries' TLS certificates (the connection is then not authenticated).
    #[arg(long, help_heading = "Registry")]
    pub(crate) allow_insecure_registry: bool,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal sign --key imgseal.key registry.example/app:1.0\n",
    "  imgseal sign --key imgseal.key -a build-version=42 --attach both --recursive registry.example/app:1.0\n",
    "  imgseal sign --key imgseal.key oci:build/app:v1\n",
    "  imgseal sign --format notation --key acme.key --certificate-chain acme.crt registry.example/app:1.0\n",
    "\nExit codes: 0 signed and attached; 2 usage, configuration, I/O or registry error (bad key file, wrong password, image not found, registry refusing the push, -t/--timeout reached).",
))]
pub(crate) struct SignArgs {
    /// Private key (cosign encrypted, PKCS#8 or SEC1 PEM): a file, or env://VAR for the PEM
    /// text in environment variable VAR (KMS URIs are not supported).
    #[arg(long, value_name = "KEY", help_heading = "Key")]
    pub(crate) key: PathBuf,
    /// Annotation to sign into the payload's `optional` section (repeatable); for notation,
    /// user metadata (notation's -m/--user-metadata).
    #[arg(short = 'a', long = "annotations", visible_short_alias = 'm', visible_alias = "user-metadata", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Where to attach the signature (cosign format; notation signatures are always referrers).
    #[arg(long, value_enum)]
    pub(crate) attach: Option<AttachArg>,
    /// Signature format.
    #[arg(long, value_enum, default_value_t = FormatArg::Cosign)]
    pub(crate) format: FormatArg,
    /// Signing certificate (PEM) for the key, optionally followed by its issuers (as in
    /// `cert generate-test`'s NAME.crt): cosign's key-in-certificate mode.
    #[arg(long, value_name = "CERT", help_heading = "Certificate")]
    pub(crate) certificate: Option<PathBuf>,
    /// Certificate chain (PEM): for cosign, the issuers of --certificate; for notation, the
    /// whole chain, leaf first (or the issuers when --certificate is given).
    #[arg(long, value_name = "CHAIN", help_heading = "Certificate")]
    pub(crate) certificate_chain: Option<PathBuf>,
    /// notation: the signature expires this long after signing (Go durations: 24h, 3h20m,
    /// 1h30m10s; also 30d).
    #[arg(short = 'e', long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) expiry: Option<std::time::Duration>,
    /// For an image index, also sign every platform manifest it lists.
    #[arg(short = 'r', long)]
    pub(crate) recursive: bool,
    #[command(flatten)]
    pub(crate) cosign_sign: CosignSignArgs,
    /// The repository the signature names (cosign's docker-reference), e.g.
    /// registry.example/app: the one the image will be published under. Default: the image's
    /// repository; for an OCI layout image whose ref name is not a full reference,
    /// oci-layout.invalid/unnamed.
    #[arg(long, value_name = "REPOSITORY")]
    pub(crate) identity: Option<String>,
    /// cosign v3's format (cosign's flag name; --bundle is an alias): a Sigstore bundle v0.3
    /// holding a DSSE in-toto statement, attached as an OCI 1.1 referrer.
    #[arg(long = "new-bundle-format", visible_alias = "bundle")]
    pub(crate) bundle: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text, help_heading = "Output")]
    pub(crate) output: Output,
    /// Images: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout; several are
    /// signed one after another (as cosign takes them), stopping at the first error.
    #[arg(required = true, num_args = 1..)]
    pub(crate) image: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal attest --key imgseal.key --type vuln --predicate trivy-report.json registry.example/app:1.0\n",
    "  imgseal attest --key imgseal.key --type cyclonedx --predicate sbom.cdx.json --new-bundle-format registry.example/app:1.0\n",
    "\nExit codes: 0 attested and attached; 2 usage, configuration, I/O or registry error (bad predicate or key file, wrong password, image not found).",
))]
pub(crate) struct AttestArgs {
    /// Private key (cosign encrypted, PKCS#8 or SEC1 PEM): a file, or env://VAR for the PEM
    /// text in environment variable VAR (KMS URIs are not supported).
    #[arg(long, value_name = "KEY", help_heading = "Key")]
    pub(crate) key: PathBuf,
    /// The predicate file (JSON; text for custom and spdx). For --type vuln also a raw
    /// Trivy JSON report (`trivy image -f json`), wrapped into cosign's vuln predicate.
    #[arg(long, value_name = "FILE")]
    pub(crate) predicate: PathBuf,
    /// Predicate type: custom, slsaprovenance, slsaprovenance02, slsaprovenance1, spdx,
    /// spdxjson, cyclonedx, link, vuln, openvex, or a URI (as cosign maps them).
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    pub(crate) kind: String,
    /// cosign v3's format (cosign's flag name; --bundle is an alias): a Sigstore bundle v0.3
    /// referrer instead of a layer of the sha256-<hex>.att tag.
    #[arg(long = "new-bundle-format", visible_alias = "bundle")]
    pub(crate) bundle: bool,
    /// Signing certificate (PEM) for the key, optionally followed by its issuers: cosign's
    /// key-in-certificate mode.
    #[arg(long, value_name = "CERT", help_heading = "Certificate")]
    pub(crate) certificate: Option<PathBuf>,
    /// The issuers of --certificate (PEM).
    #[arg(
        long,
        value_name = "CHAIN",
        requires = "certificate",
        help_heading = "Certificate"
    )]
    pub(crate) certificate_chain: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) cosign_sign: CosignSignArgs,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text, help_heading = "Output")]
    pub(crate) output: Output,
    /// Image: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout.
    pub(crate) image: String,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal verify-attestation --key imgseal.pub --type vuln registry.example/app:1.0\n",
    "  imgseal verify-attestation --key imgseal.pub --type cyclonedx -o json registry.example/app:1.0\n",
    "  imgseal verify-attestation --policy gate-policy.yaml --type vuln registry.example/app:1.0\n",
    "\nExit codes: 0 an attestation of the type verified (with --policy: the rule's requirements are met); 1 verification failed (none of the type, wrong key, tampered, or a policy condition not met); 2 usage, configuration, I/O or registry error.",
))]
pub(crate) struct VerifyAttestationArgs {
    /// Public key (PKIX PEM): a file, or env://VAR for the PEM text in environment variable VAR
    /// (KMS URIs are not supported).
    #[arg(long, value_name = "PUBKEY", required_unless_present_any = ["policy", "certificate_chain", "trusted_root"], help_heading = "Key")]
    pub(crate) key: Option<PathBuf>,
    /// cosign certificate mode: root certificates (PEM) the signing certificate must chain to.
    #[arg(long, value_name = "ROOTS", help_heading = "Certificate")]
    pub(crate) certificate_chain: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) keyless: KeylessIdentityArgs,
    /// Keyless: the Sigstore trusted root (trusted_root.json: Fulcio CAs, Rekor and CT log
    /// keys, timestamp authorities), pinned, checked offline, with --certificate-identity… and
    /// --certificate-oidc-issuer…: keyless attestations (Sigstore bundles and legacy `.att`
    /// layers with a Fulcio certificate and Rekor bundle).
    #[arg(long, value_name = "FILE", conflicts_with = "certificate_chain")]
    pub(crate) trusted_root: Option<PathBuf>,
    /// With --trusted-root: do not require a keyless certificate to carry an embedded SCT; one
    /// that is present is still verified.
    #[arg(long, requires = "trusted_root")]
    pub(crate) insecure_ignore_sct: bool,
    /// cosign certificate mode: subject CN or DN the signing certificate must have.
    #[arg(
        long,
        value_name = "SUBJECT",
        requires = "certificate_chain",
        help_heading = "Certificate"
    )]
    pub(crate) certificate_subject: Option<String>,
    /// Predicate type asked for (a cosign short name or a URI; cosign's default: custom).
    /// Attestations of other types are reported and never accepted.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    pub(crate) kind: String,
    /// Accept an envelope when one of its signatures verifies (cosign's behaviour) instead of
    /// requiring every signature it carries to verify with the given key or roots.
    #[arg(long)]
    pub(crate) any_signature: bool,
    #[command(flatten)]
    pub(crate) cosign_verify: CosignVerifyArgs,
    /// Gate the image on this imgseal policy file: the attestation requirements of the rule
    /// that applies (its authorities and conditions) instead of --key; with --type, only the
    /// requirements of that type.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "certificate_chain", "any_signature", "trusted_root", "certificate_identity"], help_heading = "Policy")]
    pub(crate) policy: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text, help_heading = "Output")]
    pub(crate) output: Output,
    /// Image: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout.
    pub(crate) image: String,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal verify --key imgseal.pub registry.example/app:1.0\n",
    "  imgseal verify --key imgseal.pub -a build-version=42 -o json registry.example/app:1.0\n",
    "  imgseal verify --key imgseal.pub oci:build/app:v1\n",
    "  imgseal verify --trust-policy trustpolicy.json --trust-store truststore registry.example/app:1.0\n",
    "  imgseal verify --policy policy.yaml registry.example/app:1.0 registry.example/db:2.3.1\n",
    "  imgseal verify --trusted-root trusted_root.json --certificate-identity-regexp https://github.com/octo-org/.+ --certificate-oidc-issuer https://token.actions.githubusercontent.com registry.example/app:1.0\n",
    "\nExit codes: 0 at least one signature passed every check (with --policy: no image was denied); 1 verification failed (no signature, wrong key, tampered payload or signature, a signature of another digest or repository, a missing annotation; with --policy: an image was denied); 2 usage, configuration, I/O or registry error.",
))]
pub(crate) struct VerifyArgs {
    /// Public key (PKIX PEM): a file, or env://VAR for the PEM text in environment variable VAR
    /// (KMS URIs are not supported). Without it, --certificate-chain, --trusted-root,
    /// --trust-policy or a policy, notation's own trust policy and trust store are used
    /// (NOTATION_CONFIG, else ~/.config/notation: trustpolicy.oci.json, truststore/).
    #[arg(long, value_name = "PUBKEY", help_heading = "Key")]
    pub(crate) key: Option<PathBuf>,
    /// cosign certificate mode: root certificates (PEM) the signing certificate must chain to.
    #[arg(long, value_name = "ROOTS", help_heading = "Certificate")]
    pub(crate) certificate_chain: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) keyless: KeylessIdentityArgs,
    /// cosign certificate mode: subject the signing certificate must have, its CN or its whole
    /// DN (an explicit opt-in, for PKIs that issue certificates without SANs).
    #[arg(
        long,
        value_name = "SUBJECT",
        requires = "certificate_chain",
        help_heading = "Certificate"
    )]
    pub(crate) certificate_subject: Option<String>,
    /// Sigstore trusted root (trusted_root.json: Fulcio CAs, Rekor and CT log keys, timestamp
    /// authorities), pinned, checked offline: keyless signatures (with --certificate-identity…
    /// and --certificate-oidc-issuer…), and the Rekor bundle of key signatures, which it then
    /// requires.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "certificate_chain",
        help_heading = "Keyless"
    )]
    pub(crate) trusted_root: Option<PathBuf>,
    /// With --trusted-root: do not require a keyless certificate to carry an embedded SCT
    /// (proof of inclusion in a certificate-transparency log); one that is present is still
    /// verified.
    #[arg(long, requires = "trusted_root", help_heading = "Keyless")]
    pub(crate) insecure_ignore_sct: bool,
    /// Notary Project trust policy (notation's trustpolicy.json, accepted unchanged).
    #[arg(
        long,
        value_name = "FILE",
        requires = "trust_store",
        help_heading = "Notary Project"
    )]
    pub(crate) trust_policy: Option<PathBuf>,
    /// Notary Project trust store directory (holding x509/ca/<name>/…).
    #[arg(
        long,
        value_name = "DIR",
        requires = "trust_policy",
        help_heading = "Notary Project"
    )]
    pub(crate) trust_store: Option<PathBuf>,
    /// Only check signatures of this format (default: every format there is trust material for).
    #[arg(long, value_enum)]
    pub(crate) format: Option<FormatArg>,
    /// Evaluate the images against this policy file instead of one key (-a, --identity and
    /// --platform apply on top of it; other trust flags are refused).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "key",
        help_heading = "Policy"
    )]
    pub(crate) policy: Option<PathBuf>,
    /// Evaluate the images as podman, CRI-O and skopeo would at pull time, against
    /// containers/image's policy.json (containers-policy.json(5)): the docker transport for
    /// registry images, oci for layouts. Trust comes from the file; --identity, -a and the
    /// other trust flags are refused.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "policy"], help_heading = "Policy")]
    pub(crate) containers_policy: Option<PathBuf>,
    /// Accept signatures that name this repository (e.g. registry.example/app) instead of the
    /// image's own: for a mirror or copy, whose signatures name the repository they were made in
    /// (with --policy: for every image, in place of each rule's signedIdentity).
    #[arg(long, value_name = "REPOSITORY")]
    pub(crate) identity: Option<String>,
    /// With --policy: how many images to resolve and verify at once (default 16).
    #[arg(long, value_name = "N", help_heading = "Policy")]
    pub(crate) concurrency: Option<usize>,
    /// Annotation every accepted signature must carry (repeatable; with --policy, required of
    /// every image on top of its rule). For notation signatures: user metadata, as notation's
    /// -m/--user-metadata.
    #[arg(short = 'a', long = "annotations", visible_short_alias = 'm', visible_alias = "user-metadata", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    /// notation's --scope: for an OCI layout image, the repository (registry.example/app) whose
    /// trust-policy statement applies; cosign signatures in the layout must name it too.
    #[arg(long, value_name = "REPOSITORY", conflicts_with_all = ["identity", "policy", "containers_policy"])]
    pub(crate) scope: Option<String>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// For an image index, also verify the platform manifest for OS/ARCH[/VARIANT] (with
    /// --policy, in every signature check).
    #[arg(long, value_name = "OS/ARCH")]
    pub(crate) platform: Option<String>,
    /// Output format (sarif: with --policy, one result per failed check; cosign: what `cosign
    /// verify` prints, a JSON array of the verified payloads per image).
    #[arg(long, short = 'o', value_enum, default_value_t = VerifyOutput::Text, help_heading = "Output")]
    pub(crate) output: VerifyOutput,
    #[command(flatten)]
    pub(crate) cosign_verify: CosignVerifyArgs,
    /// Images: host/repo[:tag][@digest], or oci:PATH[:REF] for an OCI layout; each is verified
    /// and reported, and the exit code is the worst of them.
    #[arg(required = true, num_args = 1..)]
    pub(crate) image: Vec<String>,
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal verify-blob --bundle artifact.sigstore.json --trusted-root trusted_root.json --certificate-identity-regexp https://github.com/sigstore-conformance/.+ --certificate-oidc-issuer https://token.actions.githubusercontent.com artifact.txt\n",
    "  imgseal verify-blob --bundle artifact.sigstore.json --trusted-root trusted_root.json --certificate-identity-regexp https://github.com/sigstore-conformance/.+ --certificate-oidc-issuer https://token.actions.githubusercontent.com -o json artifact.txt\n",
    "\nExit codes: 0 verified; 1 verification failed (signature, artifact digest, certificate identity or issuer, transparency log or timestamp); 2 usage, configuration or I/O error.",
))]
pub(crate) struct VerifyBlobArgs {
    /// The Sigstore bundle (v0.1, v0.2 or v0.3 JSON).
    #[arg(long, value_name = "FILE")]
    pub(crate) bundle: PathBuf,
    /// Verify a key-signed bundle with this public key (PKIX PEM) instead of a certificate identity.
    #[arg(long, value_name = "PUBKEY", conflicts_with_all = KEYLESS_IDENTITY_FLAGS, help_heading = "Key")]
    pub(crate) key: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) keyless: KeylessIdentityArgs,
    /// The Sigstore trusted root (trusted_root.json) to verify against; imgseal bundles none.
    #[arg(long, value_name = "FILE", help_heading = "Trusted root")]
    pub(crate) trusted_root: Option<PathBuf>,
    /// Do not require a transparency-log entry (cosign's flag; then the certificate is
    /// checked at a verified timestamp, or now).
    #[arg(long, help_heading = "Trusted root")]
    pub(crate) insecure_ignore_tlog: bool,
    /// Keyless: do not require the certificate's embedded SCT.
    #[arg(long, conflicts_with = "key", help_heading = "Trusted root")]
    pub(crate) insecure_ignore_sct: bool,
    /// Require an RFC 3161 timestamp from a timestamp authority of the trusted root.
    #[arg(long, help_heading = "Trusted root")]
    pub(crate) use_signed_timestamps: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text, help_heading = "Output")]
    pub(crate) output: Output,
    /// The artifact: a file, or sha256:HEX for its digest.
    #[arg(value_name = "FILE|sha256:HEX")]
    pub(crate) artifact: String,
}

/// The arg ids of [`KeylessIdentityArgs`] (for conflicts).
pub(crate) const KEYLESS_IDENTITY_FLAGS: [&str; 9] = [
    "certificate_identity",
    "certificate_identity_regexp",
    "certificate_oidc_issuer",
    "certificate_oidc_issuer_regexp",
    "certificate_github_workflow_repository",
    "certificate_github_workflow_ref",
    "certificate_github_workflow_sha",
    "certificate_github_workflow_trigger",
    "certificate_github_workflow_name",
];

/// The keyless identity flags `verify`, `verify-blob` and `verify-attestation` share (cosign's
/// names): who a Fulcio certificate must name. The command holding them has a `--trusted-root`.
#[derive(Args, Debug)]
pub(crate) struct KeylessIdentityArgs {
    /// Identity the signing certificate must carry, as cosign matches it: with
    /// --certificate-chain a SAN email, URI or DNS name (never the subject CN or DN); with
    /// --trusted-root (keyless) the Fulcio certificate's email, URI or username SAN.
    #[arg(
        long,
        value_name = "IDENTITY",
        conflicts_with = "certificate_identity_regexp",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_identity: Option<String>,
    /// Keyless: a regular expression the certificate's SAN must match as a whole (anchored).
    #[arg(
        long,
        value_name = "REGEXP",
        requires = "trusted_root",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer the certificate must name (Fulcio extension 1.3.6.1.4.1.57264.1.8, or .1.1).
    #[arg(
        long,
        value_name = "ISSUER",
        requires = "trusted_root",
        conflicts_with = "certificate_oidc_issuer_regexp",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the OIDC issuer must match as a whole (anchored).
    #[arg(
        long,
        value_name = "REGEXP",
        requires = "trusted_root",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: the GitHub Actions workflow repository (owner/repo) the certificate must name.
    #[arg(
        long,
        value_name = "OWNER/REPO",
        requires = "trusted_root",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_github_workflow_repository: Option<String>,
    /// Keyless: the GitHub Actions workflow git ref (refs/heads/main, refs/tags/v1).
    #[arg(
        long,
        value_name = "REF",
        requires = "trusted_root",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_github_workflow_ref: Option<String>,
    /// Keyless: the GitHub Actions workflow commit SHA.
    #[arg(
        long,
        value_name = "SHA",
        requires = "trusted_root",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_github_workflow_sha: Option<String>,
    /// Keyless: the GitHub Actions workflow trigger (push, release, …).
    #[arg(
        long,
        value_name = "EVENT",
        requires = "trusted_root",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_github_workflow_trigger: Option<String>,
    /// Keyless: the GitHub Actions workflow name.
    #[arg(
        long,
        value_name = "NAME",
        requires = "trusted_root",
        help_heading = "Keyless"
    )]
    pub(crate) certificate_github_workflow_name: Option<String>,
}

#[derive(Subcommand, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal trusted-root create --fulcio url=https://fulcio.example,certificate-chain=fulcio.pem --rekor url=https://rekor.example,public-key=rekor.pub --out private_trusted_root.json\n",
    "\nExit codes: 0 written; 2 usage, configuration or I/O error.",
))]
pub(crate) enum TrustedRootCommand {
    /// Write a trusted_root.json for a private Sigstore deployment (cosign trusted-root create's flags).
    Create(TrustedRootCreateArgs),
}

#[derive(Args, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal trusted-root create --fulcio url=https://fulcio.example,certificate-chain=fulcio.pem --rekor url=https://rekor.example,public-key=rekor.pub --out private_trusted_root.json\n",
    "\nExit codes: 0 written; 2 usage, configuration or I/O error (a malformed SPEC or PEM file, --out exists without --force).",
))]
pub(crate) struct TrustedRootCreateArgs {
    /// A Fulcio CA: url=URI,certificate-chain=PEM[,start-time=RFC3339][,end-time=RFC3339] (repeatable; chain: issuing CA first, root last).
    #[arg(long, value_name = "SPEC")]
    pub(crate) fulcio: Vec<String>,
    /// A Rekor log: url=URL,public-key=PEM[,start-time=…][,end-time=…] (repeatable; an Ed25519 key is a Rekor v2 log named by the URL's host).
    #[arg(long, value_name = "SPEC")]
    pub(crate) rekor: Vec<String>,
    /// A certificate-transparency log: url=URL,public-key=PEM[,start-time=…][,end-time=…] (repeatable).
    #[arg(long, value_name = "SPEC")]
    pub(crate) ctfe: Vec<String>,
    /// An RFC 3161 timestamp authority: url=URL,certificate-chain=PEM[,start-time=…][,end-time=…] (repeatable; TSA certificate first, root last).
    #[arg(long, value_name = "SPEC")]
    pub(crate) tsa: Vec<String>,
    /// Write the root to this file (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatArg {
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

/// A duration like Go's (cosign's `--timeout`, notation's `--expiry`): `90s`, `3m`, `3h20m`,
/// `1h30m10s`, `24h`, and imgseal's `30d` and bare seconds ([`imgseal::util::duration::parse`]).
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    imgseal::util::duration::parse(s).map_err(|e| e.to_string())
}

/// `-t/--timeout`: a [`parse_duration`] of at least one millisecond and at most a year.
pub(crate) fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
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
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal cert generate-test acme\n",
    "  imgseal cert generate-test acme --trust-store truststore --force\n",
    "\nExit codes: 0 success; 2 usage, configuration or I/O error.",
))]
pub(crate) enum CertCommand {
    /// Create a demo root CA and a code-signing leaf for NAME (like `notation cert
    /// generate-test`): NAME.key (encrypted, 0600), NAME.crt (leaf then root), NAME-root.crt.
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal cert generate-test acme\n",
        "  imgseal cert generate-test acme --trust-store truststore --force\n",
        "\nExit codes: 0 success; 2 usage, configuration or I/O error (the files exist and --force is not given).",
    ))]
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
    /// Add certificates to a notation trust store (as `notation cert add`):
    /// DIR/x509/TYPE/STORE/FILE, DIR being --trust-store or notation's own truststore/.
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal cert add --type ca --store release --trust-store truststore acme-root.crt\n",
        "\nExit codes: 0 added; 2 usage, configuration or I/O error (not a certificate, the wrong kind for the type, a file of that name already in the store).",
    ))]
    Add(CertAddArgs),
    /// List the certificate files of a notation trust store (as `notation cert ls`).
    #[command(
        visible_alias = "ls",
        after_help = concat!(
            "Examples:\n",
            "  imgseal cert list --trust-store truststore\n",
            "  imgseal cert list --type ca --store release --trust-store truststore\n",
            "\nExit codes: 0 listed; 2 usage or I/O error.",
        )
    )]
    List(CertListArgs),
    /// Delete certificate files from a named notation trust store (as `notation cert delete`).
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal cert delete --type ca --store release --trust-store truststore -y acme-root.crt\n",
        "\nExit codes: 0 deleted; 2 usage or I/O error (no such file or store, or -y not given).",
    ))]
    Delete(CertDeleteArgs),
}

/// A notation trust-store type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum CertType {
    /// roots (or self-signed signing certificates) for the notary.x509 scheme
    Ca,
    /// roots for the notary.x509.signingAuthority scheme
    #[value(name = "signingAuthority")]
    SigningAuthority,
    /// timestamping authority roots (self-signed CA certificates)
    Tsa,
}

impl From<CertType> for imgseal::trust::TrustStoreKind {
    fn from(t: CertType) -> Self {
        match t {
            CertType::Ca => imgseal::trust::TrustStoreKind::Ca,
            CertType::SigningAuthority => imgseal::trust::TrustStoreKind::SigningAuthority,
            CertType::Tsa => imgseal::trust::TrustStoreKind::Tsa,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct CertAddArgs {
    /// The trust-store type.
    #[arg(short = 't', long = "type", value_enum)]
    pub(crate) kind: CertType,
    /// The named store (what trust policies list as TYPE:STORE).
    #[arg(short = 's', long, value_name = "STORE")]
    pub(crate) store: String,
    /// The trust store directory (default: notation's, $NOTATION_CONFIG or ~/.config/notation, truststore/).
    #[arg(long, value_name = "DIR")]
    pub(crate) trust_store: Option<PathBuf>,
    /// Certificate files (PEM or DER), kept under their own names.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct CertListArgs {
    /// Only this trust-store type.
    #[arg(short = 't', long = "type", value_enum)]
    pub(crate) kind: Option<CertType>,
    /// Only this named store.
    #[arg(short = 's', long, value_name = "STORE")]
    pub(crate) store: Option<String>,
    /// The trust store directory (default: notation's).
    #[arg(long, value_name = "DIR")]
    pub(crate) trust_store: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct CertDeleteArgs {
    /// The trust-store type.
    #[arg(short = 't', long = "type", value_enum)]
    pub(crate) kind: CertType,
    /// The named store.
    #[arg(short = 's', long, value_name = "STORE")]
    pub(crate) store: String,
    /// Delete every certificate of the store (and the store).
    #[arg(long, conflicts_with = "file")]
    pub(crate) all: bool,
    /// Confirm the deletion (there is no prompt).
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// The trust store directory (default: notation's).
    #[arg(long, value_name = "DIR")]
    pub(crate) trust_store: Option<PathBuf>,
    /// The certificate file name in the store.
    #[arg(value_name = "FILE", required_unless_present = "all")]
    pub(crate) file: Option<String>,
}

#[derive(Subcommand, Debug)]
#[command(after_help = concat!(
    "Examples:\n",
    "  imgseal policy validate policy.yaml\n",
    "  imgseal policy import-containers containers-policy.json\n",
    "\nExit codes: 0 success; 2 the file is invalid, or a usage or I/O error.",
))]
pub(crate) enum PolicyCommand {
    /// Check a policy file: syntax, unknown keys (with the line), authorities' key files,
    /// regexes; warns about rules that can never match and catch-alls listed first.
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal policy validate policy.yaml\n",
        "\nExit codes: 0 valid (warnings on stderr); 2 invalid (the error names the line), or an I/O error.",
    ))]
    Validate {
        /// The policy file (YAML).
        file: PathBuf,
        /// Output format (json: docs/schemas/policy-validate.json).
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Treat warnings (rules that can never match, catch-alls before specific rules) as
        /// errors: exit 1 when there is any.
        #[arg(long)]
        strict: bool,
    },
    /// Print the imgseal policy (YAML) equivalent to a containers/image policy.json, or refuse,
    /// naming the scope and field, what imgseal's policy cannot say the same way.
    #[command(after_help = concat!(
        "Examples:\n",
        "  imgseal policy import-containers containers-policy.json\n",
        "  imgseal policy import-containers containers-policy.json > imported-policy.yaml\n",
        "\nExit codes: 0 printed; 2 the file is malformed or says what imgseal's policy cannot (the error names the scope and field), or an I/O error.",
    ))]
    ImportContainers {
        /// containers/image's policy.json (e.g. /etc/containers/policy.json).
        file: PathBuf,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum VerifyOutput {
    Text,
    Json,
    Sarif,
    /// `verify` with --key, --certificate-chain or --trusted-root only: cosign's JSON, one
    /// array of the verified simple-signing payloads per image.
    Cosign,
}

/// cosign's signing flags that imgseal accepts so scripts run unchanged: each is applied,
/// noted on stderr when it changes nothing, or refused when imgseal cannot do what it asks.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct CosignSignArgs {
    /// cosign's flag: imgseal never uploads to a transparency log, so only --tlog-upload=false
    /// is accepted (with a note); --tlog-upload[=true] is refused.
    #[arg(long, value_name = "true|false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, help_heading = "cosign compatibility")]
    pub(crate) tlog_upload: Option<bool>,
    /// cosign's flag: imgseal asks no confirmation questions (accepted, with a note).
    #[arg(short = 'y', long, value_name = "true|false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, help_heading = "cosign compatibility")]
    pub(crate) yes: Option<bool>,
}

/// cosign's verification flags that imgseal accepts so scripts run unchanged.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct CosignVerifyArgs {
    /// cosign's flag. With --trusted-root: =true stops requiring a transparency-log (Rekor)
    /// entry for key and keyless signatures (one that is present is still verified). Without
    /// it imgseal checks no transparency log, so the flag changes nothing (a note says so).
    #[arg(long, value_name = "true|false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, help_heading = "cosign compatibility")]
    pub(crate) insecure_ignore_tlog: Option<bool>,
    /// cosign's flag: imgseal always checks the claims (digest, repository, annotations), so
    /// =true is accepted with a note and =false is refused.
    #[arg(long, value_name = "true|false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool, help_heading = "cosign compatibility")]
    pub(crate) check_claims: Option<bool>,
}

/// A boolean as Go's strconv.ParseBool (and so cosign's flags) reads one: 1, t, T, TRUE, true,
/// True, 0, f, F, FALSE, false, False.
pub(crate) fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{s:?} is not true or false")),
    }
}

pub(crate) fn parse_annotation(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}
