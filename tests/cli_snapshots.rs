//! Snapshots of what people read: the help, and the outputs of a deployed stack.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use support::{bare_xtask, run, volatile_filters, xtask};

fn transcript(r: &support::Run) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        r.code, r.stdout, r.stderr
    )
}

#[test]
fn help() {
    for args in [
        &["--help"][..],
        &["deploy", "--help"],
        &["cleanup", "--help"],
        &["outputs", "--help"],
        &["smoke", "--help"],
        &["serve", "--help"],
    ] {
        let out = run(bare_xtask(), args).ok();
        let name = match args {
            [_] => "help_xtask".to_owned(),
            [command, ..] => format!("help_{command}"),
            [] => unreachable!(),
        };
        insta::assert_snapshot!(name, out.stdout);
    }
}

#[test]
fn deploy_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut deploy = xtask();
    deploy.current_dir(dir.path());
    let deployed = run(
        deploy,
        &["deploy", "--stack-name", "snapshot", "--env-dir", "."],
    )
    .ok();
    let outputs = run(xtask(), &["outputs", "--stack-name", "snapshot"]).ok();
    // Without --yes and without a terminal, cleanup says what it would delete and refuses.
    let unconfirmed = run(xtask(), &["cleanup", "--stack-name", "snapshot"]).failed();
    insta::with_settings!({ filters => volatile_filters() }, {
        insta::assert_snapshot!("deploy", transcript(&deployed));
        insta::assert_snapshot!("outputs_table", transcript(&outputs));
        insta::assert_snapshot!("cleanup_unconfirmed", transcript(&unconfirmed));
    });
    let mut cleanup = xtask();
    cleanup.current_dir(dir.path());
    run(
        cleanup,
        &[
            "cleanup",
            "--yes",
            "--stack-name",
            "snapshot",
            "--env-dir",
            ".",
        ],
    )
    .ok();
}

#[test]
fn refusals_read_well() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "Resources:\n  Table: [unclosed\n").unwrap();
    let invalid = run(
        xtask(),
        &[
            "deploy",
            "--stack-name",
            "snap-broken",
            "--template",
            broken.to_str().unwrap(),
        ],
    )
    .failed();
    let invalid = transcript(&invalid).replace(dir.path().to_str().unwrap(), "[DIR]");
    insta::assert_snapshot!("invalid_template", invalid);
}
