//! `imgseal trusted-root create`: a `trusted_root.json` for a private Sigstore deployment, from
//! PEM keys and certificate chains, with cosign v3's `--fulcio/--rekor/--ctfe/--tsa` specs
//! (`url=…,public-key=…|certificate-chain=…,start-time=…,end-time=…`).

use super::*;
use imgseal::trust::sigstore_root::TrustedRoot;
use std::time::SystemTime;

/// Largest PEM file read.
const MAX_PEM: u64 = 1024 * 1024;

/// One parsed `key=value,…` spec.
struct Spec {
    url: String,
    file: PathBuf,
    start: Option<SystemTime>,
    end: Option<SystemTime>,
}

/// Parses `spec` for `--flag`; `file_key` is `public-key` or `certificate-chain`.
fn parse_spec(flag: &str, spec: &str, file_key: &str) -> Result<Spec, Error> {
    let bad = |why: String| Error::Usage(format!("--{flag} {spec:?}: {why}"));
    let mut url = None;
    let mut file = None;
    let mut start = None;
    let mut end = None;
    for part in spec.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("{part:?} is not KEY=VALUE")))?;
        let time = |v: &str| {
            imgseal::util::time::parse_rfc3339(v)
                .ok_or_else(|| bad(format!("{k} {v:?} is not an RFC 3339 time")))
        };
        let slot_taken = match k {
            "url" => url.replace(v.to_string()).is_some(),
            k if k == file_key => file.replace(PathBuf::from(v)).is_some(),
            "start-time" => start.replace(time(v)?).is_some(),
            "end-time" => end.replace(time(v)?).is_some(),
            other => {
                return Err(bad(format!(
                    "unknown key {other:?} (url, {file_key}, start-time, end-time)"
                )))
            }
        };
        if slot_taken {
            return Err(bad(format!("{k} given twice")));
        }
    }
    Ok(Spec {
        url: url.ok_or_else(|| bad("url= is required".into()))?,
        file: file.ok_or_else(|| bad(format!("{file_key}= is required")))?,
        start,
        end,
    })
}

fn read_pem(spec: &Spec) -> Result<Vec<u8>, Error> {
    Ok(imgseal::util::fs::read_capped(
        &spec.file, MAX_PEM, "PEM file",
    )?)
}

pub(crate) fn trusted_root_create(a: TrustedRootCreateArgs) -> Result<u8, Error> {
    if a.fulcio.is_empty() && a.rekor.is_empty() && a.ctfe.is_empty() && a.tsa.is_empty() {
        return Err(Error::Usage(
            "trusted-root create needs at least one --fulcio, --rekor, --ctfe or --tsa".into(),
        ));
    }
    if a.force && a.out.is_none() {
        return Err(Error::Usage("--force applies to --out only".into()));
    }
    let mut b = TrustedRoot::builder();
    for s in &a.fulcio {
        let spec = parse_spec("fulcio", s, "certificate-chain")?;
        b = b.fulcio_pem_valid(&spec.url, &read_pem(&spec)?, spec.start, spec.end);
    }
    for s in &a.rekor {
        let spec = parse_spec("rekor", s, "public-key")?;
        // A log key with no stated start counts from the Unix epoch: the operator pins it.
        let start = spec.start.unwrap_or(SystemTime::UNIX_EPOCH);
        b = b.rekor_key_pem(&spec.url, &read_pem(&spec)?, start, spec.end);
    }
    for s in &a.ctfe {
        let spec = parse_spec("ctfe", s, "public-key")?;
        let start = spec.start.unwrap_or(SystemTime::UNIX_EPOCH);
        b = b.ctlog_key_pem(&spec.url, &read_pem(&spec)?, start, spec.end);
    }
    for s in &a.tsa {
        let spec = parse_spec("tsa", s, "certificate-chain")?;
        b = b.tsa_pem_valid(&spec.url, &read_pem(&spec)?, spec.start, spec.end);
    }
    let root = b.build()?;
    let json = root.to_json();
    match &a.out {
        Some(path) => {
            imgseal::util::fs::write_file_atomic(path, json.as_bytes(), 0o644, a.force)?;
            errln!("wrote {}", path.display());
        }
        None => outln!("{}", json.trim_end()),
    }
    Ok(0)
}
