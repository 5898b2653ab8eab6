//! `imgseal login SERVER` and `imgseal logout SERVER`: store or remove registry credentials in
//! docker's `config.json`, as `docker login`, `cosign login` and `notation login` do, so every
//! tool on the machine reads them.

use super::*;
use imgseal::store::registry::credentials;

/// A password from standard input holds one line.
const MAX_PASSWORD_STDIN: u64 = 64 * 1024;

pub(crate) fn login(a: LoginArgs) -> Result<u8, Error> {
    let server = server_name(&a.server)?;
    let password = match (&a.password, a.password_stdin) {
        (Some(_), true) => {
            return Err(Error::Usage(
                "give the password with --password or --password-stdin, not both".into(),
            ))
        }
        (Some(p), false) => {
            errln!("imgseal: warning: a password on the command line is visible to other users of this machine; prefer --password-stdin");
            zeroize::Zeroizing::new(p.clone())
        }
        (None, true) => {
            use std::io::Read as _;
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_PASSWORD_STDIN)
                .read_to_string(&mut text)
                .map_err(|e| {
                    Error::Usage(format!("cannot read the password from standard input: {e}"))
                })?;
            zeroize::Zeroizing::new(text.lines().next().unwrap_or("").to_string())
        }
        (None, false) => {
            if !std::io::stdin().is_terminal() {
                return Err(Error::Usage(
                    "no password: give --password-stdin (and pipe the password in) or run on a terminal".into(),
                ));
            }
            zeroize::Zeroizing::new(rpassword::prompt_password("Password: ").map_err(|e| {
                Error::Usage(format!("cannot read the password from the terminal: {e}"))
            })?)
        }
    };
    if password.is_empty() {
        return Err(Error::Usage(
            "the password is empty; nothing was written".into(),
        ));
    }
    let path = credentials::login(&server, &a.username, &password)
        .map_err(|e| Error::Usage(e.to_string()))?;
    errln!(
        "Login credentials for {server} written to {}",
        path.display()
    );
    outln!("Login Succeeded");
    Ok(0)
}

pub(crate) fn logout(server: &str) -> Result<u8, Error> {
    let server = server_name(server)?;
    match credentials::logout(&server).map_err(|e| Error::Usage(e.to_string()))? {
        true => outln!("Removed login credentials for {server}"),
        false => errln!("imgseal: no login credentials for {server} were stored; nothing changed"),
    }
    Ok(0)
}

/// A registry host as references spell it (`docker.io` for Docker Hub's aliases).
fn server_name(server: &str) -> Result<String, Error> {
    let trimmed = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let host = trimmed.split('/').next().unwrap_or("");
    if host.is_empty() || trimmed.contains('/') && !trimmed.ends_with("/v1") {
        return Err(Error::Usage(format!(
            "{server:?} is not a registry host (give e.g. registry.example or registry.example:5000)"
        )));
    }
    imgseal::reference::canonical_registry(host)
        .map_err(|e| Error::Usage(format!("{server:?} is not a registry host: {e}")))
}
