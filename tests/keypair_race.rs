//! `generate-key-pair` run concurrently into one directory (issue #16): without `--force`
//! exactly one run writes the pair and the others fail with "already exists", and the `.pub`
//! is always the public half of the `.key` (before, the runs overwrote each other and in 2 of
//! 25 rounds left a `.pub` from one run beside the `.key` of another).

mod support;

use imgseal::SigningKey;
use std::process::Command;
use support::cli::*;

const PASSWORD: &str = "race password";

fn generate(cli: &Cli, force: bool) -> Command {
    let mut args = vec!["generate-key-pair", "--output-key-prefix", "race"];
    if force {
        args.push("--force");
    }
    let mut c = cli.cmd(&args);
    c.env("IMGSEAL_PASSWORD", PASSWORD);
    c
}

/// The pair on disk matches, the private key is 0600, and no temporary file is left.
#[track_caller]
fn assert_pair(cli: &Cli) {
    let key = SigningKey::from_file(&cli.path("race.key"), Some(PASSWORD.as_bytes())).unwrap();
    let public = std::fs::read_to_string(cli.path("race.pub")).unwrap();
    assert_eq!(
        key.public_key().to_pem(),
        public,
        ".pub is not the .key's public half"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(cli.path("race.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key mode {mode:o}");
    }
    let mut names: Vec<String> = std::fs::read_dir(cli.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("race") || n.starts_with(".race"))
        .collect();
    names.sort();
    assert_eq!(names, ["race.key", "race.pub"], "left in the directory");
}

#[test]
fn concurrent_runs_without_force_have_exactly_one_winner_and_a_matching_pair() {
    for round in 0..5 {
        let cli = Cli::new();
        let children: Vec<_> = (0..10)
            .map(|i| {
                let c = generate(&cli, false);
                std::thread::spawn(move || {
                    let mut c = c;
                    run_guarded(&format!("round {round} run {i}"), &mut c)
                })
            })
            .collect();
        let outs: Vec<_> = children.into_iter().map(|t| t.join().unwrap()).collect();
        let winners = outs.iter().filter(|o| o.status.code() == Some(0)).count();
        assert_eq!(winners, 1, "round {round}: {winners} runs succeeded");
        for o in outs.iter().filter(|o| o.status.code() != Some(0)) {
            assert_fails_alone(o, 2, "already exists; pass --force to overwrite it");
        }
        assert_pair(&cli);
    }
}

#[test]
fn force_replaces_an_existing_pair_atomically() {
    let cli = Cli::new();
    assert_ok(&run_guarded("first", &mut generate(&cli, false)));
    let first = std::fs::read_to_string(cli.path("race.pub")).unwrap();
    let out = run_guarded("again", &mut generate(&cli, false));
    assert_fails_alone(&out, 2, "race.key already exists; pass --force");
    assert_eq!(
        std::fs::read_to_string(cli.path("race.pub")).unwrap(),
        first
    );
    assert_ok(&run_guarded("forced", &mut generate(&cli, true)));
    assert_ne!(
        std::fs::read_to_string(cli.path("race.pub")).unwrap(),
        first
    );
    assert_pair(&cli);
}
