//! `imgseal completion SHELL` and `imgseal man DIR`: generated from the clap definitions, so
//! every command and flag appears; the bash script is valid bash, each page a man page.

mod support;

use support::cli::*;

#[test]
fn completion_scripts_name_every_command() {
    let cli = Cli::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = cli.run(&["completion", shell]);
        assert_ok(&out);
        let script = stdout(&out);
        for word in [
            "sign",
            "verify",
            "k8s",
            "admission",
            "certificate-subject",
            "timeout",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bash = stdout(&cli.run(&["completion", "bash"]));
    let path = cli.path("imgseal.bash");
    std::fs::write(&path, bash).unwrap();
    let check = std::process::Command::new("bash")
        .args(["-n", &arg(&path)])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // clap's own usage error (it lists the shells there are).
    let out = cli.run(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'tcsh'") && stderr(&out).contains("bash"));
}

#[test]
fn man_pages_cover_every_command() {
    let cli = Cli::new();
    let out = cli.run(&["man", "pages"]);
    assert_ok(&out);
    for page in [
        "imgseal.1",
        "imgseal-sign.1",
        "imgseal-verify.1",
        "imgseal-k8s-verify.1",
        "imgseal-k8s-pin.1",
        "imgseal-admission-serve.1",
        "imgseal-policy-validate.1",
    ] {
        let text = std::fs::read_to_string(cli.path("pages").join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let verify = std::fs::read_to_string(cli.path("pages/imgseal-verify.1")).unwrap();
    assert!(
        verify.contains("certificate\\-identity"),
        "flags are in the page"
    );
}
