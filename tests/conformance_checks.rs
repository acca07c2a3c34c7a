//! Proof that the conformance checks mean something: each fails on a server that breaks its
//! rule (the fixture, one fault at a time), and everything applicable passes on the bundled
//! server.

mod fixture;
mod support;

use fixture::Faults;
use mcp_auth_conformance::{
    catalogue::{CATALOGUE, Level, Revision},
    checks::Outcome,
    client::{browser::Credentials, token::ClientAuth},
    observe::flow::Login,
    run::{RunOptions, run},
};

fn options() -> RunOptions {
    RunOptions {
        token: Some(fixture::VALID_TOKEN.into()),
        expired_token: Some(fixture::expired_token()),
        step_up_tool: Some(fixture::WRITE_TOOL.into()),
        ..RunOptions::new(Some(Revision::R2026_07_28))
    }
}

/// Ports change from run to run: they go, wherever they show (target, reasons, evidence).
fn stable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i + "127.0.0.1:".len()]);
        rest = &rest[i + "127.0.0.1:".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        out.push_str("[PORT]");
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// For each check, a fault under which it must fail.
fn matrix() -> Vec<(&'static str, Faults)> {
    let f = Faults::default;
    vec![
        (
            "challenge.status-401",
            Faults {
                status_200: true,
                ..f()
            },
        ),
        (
            "challenge.bearer",
            Faults {
                no_www_authenticate: true,
                ..f()
            },
        ),
        (
            "challenge.resource-metadata",
            Faults {
                relative_resource_metadata: true,
                ..f()
            },
        ),
        (
            "challenge.scope",
            Faults {
                no_scope: true,
                ..f()
            },
        ),
        (
            "prm.discoverable",
            Faults {
                prm_at_wrong_path: true,
                ..f()
            },
        ),
        (
            "prm.json-object",
            Faults {
                prm_text_plain: true,
                ..f()
            },
        ),
        (
            "prm.resource-matches",
            Faults {
                resource_mismatch: true,
                ..f()
            },
        ),
        (
            "prm.authorization-servers",
            Faults {
                no_authorization_servers: true,
                ..f()
            },
        ),
        (
            "prm.bearer-methods",
            Faults {
                bearer_methods_query: true,
                ..f()
            },
        ),
        (
            "as.metadata-discoverable",
            Faults {
                no_as_metadata: true,
                ..f()
            },
        ),
        (
            "as.issuer-matches",
            Faults {
                issuer_mismatch: true,
                ..f()
            },
        ),
        (
            "as.endpoints",
            Faults {
                no_token_endpoint: true,
                ..f()
            },
        ),
        (
            "as.https",
            Faults {
                insecure_endpoint: true,
                ..f()
            },
        ),
        (
            "as.pkce-s256",
            Faults {
                no_s256: true,
                ..f()
            },
        ),
        (
            "as.iss-parameter",
            Faults {
                no_iss_parameter: true,
                ..f()
            },
        ),
        (
            "token.accepted",
            Faults {
                reject_valid_token: true,
                ..f()
            },
        ),
        (
            "token.query-refused",
            Faults {
                accept_query_token: true,
                ..f()
            },
        ),
        (
            "dcr.registers",
            Faults {
                dcr_without_client_id: true,
                ..f()
            },
        ),
        (
            "dcr.echoes-metadata",
            Faults {
                dcr_without_echo: true,
                ..f()
            },
        ),
        (
            "dcr.rejects-insecure-redirect",
            Faults {
                dcr_accepts_insecure_redirect: true,
                ..f()
            },
        ),
        (
            "token.invalid-rejected",
            Faults {
                accept_any_token: true,
                ..f()
            },
        ),
        (
            "token.invalid-token-error",
            Faults {
                invalid_token_without_error: true,
                ..f()
            },
        ),
        (
            "token.unsigned-rejected",
            Faults {
                accept_any_token: true,
                ..f()
            },
        ),
        (
            "transport.https",
            Faults {
                insecure_resource_metadata: true,
                ..f()
            },
        ),
        (
            "transport.metadata-cors",
            Faults {
                no_cors: true,
                ..f()
            },
        ),
        (
            "transport.token-not-echoed",
            Faults {
                echo_token: true,
                ..f()
            },
        ),
        (
            "token.expired-rejected",
            Faults {
                expired_token_accepted: true,
                ..f()
            },
        ),
        (
            "authz.code-flow",
            Faults {
                token_endpoint_broken: true,
                ..f()
            },
        ),
        (
            "authz.state-returned",
            Faults {
                state_dropped: true,
                ..f()
            },
        ),
        (
            "authz.iss-in-response",
            Faults {
                wrong_iss: true,
                ..f()
            },
        ),
        (
            "authz.iss-in-error-response",
            Faults {
                iss_missing_in_error: true,
                ..f()
            },
        ),
        (
            "authz.pkce-required",
            Faults {
                pkce_optional: true,
                ..f()
            },
        ),
        (
            "authz.pkce-plain-refused",
            Faults {
                plain_accepted: true,
                ..f()
            },
        ),
        (
            "authz.verifier-checked",
            Faults {
                verifier_ignored: true,
                ..f()
            },
        ),
        (
            "authz.foreign-resource-refused",
            Faults {
                foreign_token_accepted: true,
                ..f()
            },
        ),
        (
            "authz.refresh-rotated",
            Faults {
                refresh_not_rotated: true,
                ..f()
            },
        ),
        (
            "cimd.accepted",
            Faults {
                cimd_refused: true,
                ..f()
            },
        ),
        (
            "cimd.client-id-mismatch-refused",
            Faults {
                cimd_mismatch_accepted: true,
                ..f()
            },
        ),
        (
            "cimd.redirect-unlisted-refused",
            Faults {
                cimd_unlisted_accepted: true,
                ..f()
            },
        ),
        (
            "token.insufficient-scope",
            Faults {
                step_up_without_scope: true,
                ..f()
            },
        ),
    ]
}

#[test]
fn every_check_has_a_fault_that_fails_it() {
    let covered: Vec<&str> = matrix().iter().map(|(id, _)| *id).collect();
    for def in CATALOGUE {
        assert!(
            covered.contains(&def.id),
            "{} has no failing fixture: a check with none is not done",
            def.id
        );
    }
}

#[tokio::test]
async fn a_conforming_fixture_passes_everything() {
    let target = fixture::start(Faults::default()).await;
    let report = run(&target, &options()).await.unwrap();
    let failed: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| r.id)
        .collect();
    assert!(failed.is_empty(), "{}", report.table());
    assert_eq!(report.exit_code(Level::Should), 0);
}

#[tokio::test]
async fn each_check_fails_on_its_fault() {
    for (id, faults) in matrix() {
        let target = fixture::start(faults).await;
        let report = run(&target, &options()).await.unwrap();
        let result = report
            .results
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} not run"));
        assert_eq!(
            result.outcome,
            Outcome::Fail,
            "{id} under {faults:?}:\n{}",
            report.table()
        );
        let expected_exit = i32::from(result.level == Level::Must);
        assert_eq!(
            report.exit_code(Level::Must),
            expected_exit,
            "{id}: the gate"
        );
        assert_eq!(
            report.exit_code(Level::Should),
            i32::from(result.level <= Level::Should),
            "{id}: --fail-on should"
        );
        insta::assert_snapshot!(
            format!("fault_{}", id.replace('.', "_")),
            stable(&report.table())
        );
    }
}

/// A token from the client credentials grant stands in for one given with --token; with a wrong
/// secret there is none, and the checks that need one skip rather than pass. (The fixture hands
/// out no DCR client here, so the code flow cannot supply a token instead.)
#[tokio::test]
async fn client_credentials_obtain_the_token() {
    let target = fixture::start(Faults {
        dcr_without_client_id: true,
        ..Default::default()
    })
    .await;
    let with = |secret: &str| RunOptions {
        token: None,
        login: Login::ClientCredentials(ClientAuth::Basic {
            id: fixture::MACHINE_CLIENT.0.into(),
            secret: secret.into(),
        }),
        ..options()
    };
    let outcome = |report: &mcp_auth_conformance::report::Report, id: &str| {
        report.results.iter().find(|r| r.id == id).unwrap().outcome
    };
    let report = run(&target, &with(fixture::MACHINE_CLIENT.1))
        .await
        .unwrap();
    assert_eq!(
        outcome(&report, "token.accepted"),
        Outcome::Pass,
        "{}",
        report.table()
    );
    assert_eq!(
        outcome(&report, "authz.code-flow"),
        Outcome::Skip,
        "{}",
        report.table()
    );
    let report = run(&target, &with("wrong")).await.unwrap();
    assert_eq!(
        outcome(&report, "token.accepted"),
        Outcome::Skip,
        "{}",
        report.table()
    );
}

/// Without --spec the revision is the one the server speaks, asked with the token; without a
/// token it cannot be asked, and the report says so.
#[tokio::test]
async fn the_revision_is_detected() {
    let detect = |token: Option<&str>| RunOptions {
        token: token.map(str::to_owned),
        ..RunOptions::new(None)
    };
    let dual = fixture::start(Faults::default()).await;
    let report = run(&dual, &detect(Some(fixture::VALID_TOKEN)))
        .await
        .unwrap();
    assert_eq!(report.revision, Revision::R2026_07_28);
    assert_eq!(
        report.revision_basis,
        "detected: server/discover lists 2025-11-25, 2026-07-28"
    );
    assert!(
        report
            .results
            .iter()
            .any(|r| r.id == "authz.iss-in-response")
    );

    let legacy = fixture::start(Faults {
        legacy_only: true,
        ..Default::default()
    })
    .await;
    let report = run(&legacy, &detect(Some(fixture::VALID_TOKEN)))
        .await
        .unwrap();
    assert_eq!(report.revision, Revision::R2025_11_25, "{}", report.table());
    assert_eq!(
        report.revision_basis,
        "detected: server/discover is not understood; initialize agreed on 2025-11-25"
    );
    // Checks of the newer revision only are not judged.
    assert!(
        !report
            .results
            .iter()
            .any(|r| r.id == "authz.iss-in-response")
    );
    let accepted = report
        .results
        .iter()
        .find(|r| r.id == "token.accepted")
        .unwrap();
    assert_eq!(accepted.outcome, Outcome::Pass);
    assert_eq!(
        accepted.reason,
        "initialize and tools/list answered with results"
    );

    // No token given, and none to be had: the fixture's registration hands out no client.
    let closed = fixture::start(Faults {
        legacy_only: true,
        dcr_without_client_id: true,
        ..Default::default()
    })
    .await;
    let report = run(&closed, &detect(None)).await.unwrap();
    assert_eq!(report.revision, Revision::R2026_07_28);
    assert_eq!(
        report.revision_basis,
        "not detected (no token to ask the server with); the current revision"
    );
}

/// A token given as expired that says it is not is not judged, so a mistake in the command
/// line cannot turn into a pass or a fail.
#[tokio::test]
async fn a_token_given_as_expired_must_have_expired() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let target = fixture::start(Faults::default()).await;
    let fresh = format!(
        "e30.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"exp": 4000000000}"#)
    );
    let report = run(
        &target,
        &RunOptions {
            expired_token: Some(fresh),
            only: vec!["token.expired-rejected".into()],
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.results[0].outcome, Outcome::Skip);
    assert!(
        report.results[0].reason.contains("has not expired"),
        "{}",
        report.results[0].reason
    );
}

/// Serves the document `doc` makes for the first URL at /client.json, and the same document
/// at /copy.json; returns both URLs.
async fn publish(doc: impl FnOnce(&url::Url) -> serde_json::Value) -> (url::Url, url::Url) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let first: url::Url = format!("{base}/client.json").parse().unwrap();
    let doc = doc(&first);
    let serve = move || {
        let doc = doc.clone();
        async move { axum::Json(doc) }
    };
    let app = axum::Router::new()
        .route("/client.json", axum::routing::get(serve.clone()))
        .route("/copy.json", axum::routing::get(serve));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (first, format!("{base}/copy.json").parse().unwrap())
}

/// For servers that cannot reach the tester's loopback, the document is published elsewhere
/// (`--cimd-url`): the tester checks it is its own, then runs the same three attempts; with one
/// URL only, the mismatch check has nothing to try and says how to give it one.
#[tokio::test]
async fn cimd_checks_run_on_a_published_document() {
    use mcp_auth_conformance::observe::flow::published_document;
    let outcomes = |report: &mcp_auth_conformance::report::Report| {
        report
            .results
            .iter()
            .filter(|r| r.id.starts_with("cimd."))
            .map(|r| (r.id, r.outcome, r.reason.clone()))
            .collect::<Vec<_>>()
    };
    let cimd = |urls: Vec<url::Url>| RunOptions {
        cimd_urls: urls,
        only: vec!["cimd".into()],
        ..options()
    };
    // The document at A names A; the copy at B names A too, so it is not B's.
    let (a, b) = publish(published_document).await;
    let good = fixture::start(Faults::default()).await;
    let report = run(&good, &cimd(vec![a.clone(), b.clone()])).await.unwrap();
    assert!(
        outcomes(&report)
            .iter()
            .all(|(_, o, _)| *o == Outcome::Pass),
        "{}",
        report.table()
    );
    let lax = fixture::start(Faults {
        cimd_mismatch_accepted: true,
        ..Default::default()
    })
    .await;
    let report = run(&lax, &cimd(vec![a.clone(), b])).await.unwrap();
    assert!(
        outcomes(&report).contains(&(
            "cimd.client-id-mismatch-refused",
            Outcome::Fail,
            "the AS issued an authorization code for a document whose client_id is not its URL"
                .into()
        )),
        "{}",
        report.table()
    );
    let report = run(&good, &cimd(vec![a.clone()])).await.unwrap();
    let mismatch = &outcomes(&report)[1];
    assert_eq!(mismatch.1, Outcome::Skip);
    assert!(mismatch.2.contains("--cimd-url twice"), "{}", mismatch.2);

    // Someone else's document is not judged: the reason shows what to publish.
    let (other, _) = publish(|_| {
        serde_json::json!({"client_id": "https://elsewhere.example/c.json", "redirect_uris": []})
    })
    .await;
    let report = run(&good, &cimd(vec![other.clone()])).await.unwrap();
    let judged = outcomes(&report);
    assert!(
        judged.iter().all(|(_, o, _)| *o == Outcome::Skip),
        "{judged:?}"
    );
    let reason = &judged[0].2;
    assert!(
        reason.contains("publish exactly this at") && reason.contains(other.as_str()),
        "{reason}"
    );
}

/// A server that repeats tokens must not make the report repeat them.
#[tokio::test]
async fn echoed_tokens_never_reach_the_report() {
    let target = fixture::start(Faults {
        echo_token: true,
        ..Default::default()
    })
    .await;
    let json = run(&target, &options()).await.unwrap().json();
    assert!(json.contains("invalid token: [the token]"), "{json}");
    assert!(!json.contains("not-a-valid-token"), "{json}");
    assert!(!json.contains(&fixture::expired_token()), "{json}");
}

#[tokio::test]
async fn prm_not_json_fails_the_json_check() {
    let target = fixture::start(Faults {
        prm_not_json: true,
        ..Default::default()
    })
    .await;
    let report = run(&target, &options()).await.unwrap();
    let r = report
        .results
        .iter()
        .find(|r| r.id == "prm.json-object")
        .unwrap();
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(r.reason.contains("not a JSON object"), "{}", r.reason);
}

#[tokio::test]
async fn the_bundled_server_passes_everything_applicable() {
    // As a person would: the façade's consent page, then the development AS's sign-in form.
    let server =
        mcp_auth_server::local::LocalServer::start(mcp_auth_server::local::LocalOptions::default())
            .await
            .unwrap();
    let options = RunOptions {
        login: Login::Form(Credentials {
            username: server.user.username.clone(),
            password: server.user.password.clone(),
        }),
        step_up_tool: Some("notes_add".into()),
        expired_token: Some(server.expired_token().unwrap()),
        ..RunOptions::new(None)
    };
    let report = run(&server.resource.as_str().parse().unwrap(), &options)
        .await
        .unwrap();
    let accepted = report
        .results
        .iter()
        .find(|r| r.id == "token.accepted")
        .unwrap();
    assert_eq!(accepted.outcome, Outcome::Pass, "{}", report.table());
    assert_eq!(report.summary.fail, 0, "{}", report.table());
    assert_eq!(report.summary.skip, 0, "{}", report.table());
    insta::assert_snapshot!("bundled_server", stable(&report.table()));
    insta::assert_snapshot!("bundled_server_json", stable(&report.json()));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_that_is_not_there_cannot_be_judged() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = run(&format!("http://{free}/mcp").parse().unwrap(), &options())
        .await
        .unwrap_err();
    assert!(err.reason.contains("connection failed"), "{err}");
}

/// The CLI on a fixture: exit codes make it a CI gate, and --out writes every format.
#[tokio::test]
async fn the_cli_is_a_ci_gate() {
    let run_cli = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::run(support::bare_xtask(), &args)
        })
        .await
        .unwrap()
    };
    let must = fixture::start(Faults {
        no_s256: true,
        ..Default::default()
    })
    .await
    .to_string();
    let should = fixture::start(Faults {
        no_scope: true,
        ..Default::default()
    })
    .await
    .to_string();
    let good = fixture::start(Faults::default()).await.to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    assert_eq!(run_cli(s(&["conformance", &good])).await.code, Some(0));
    let failing = run_cli(s(&["conformance", &must])).await;
    assert_eq!(failing.code, Some(1));
    assert!(
        failing.stdout.contains("as.pkce-s256") && failing.stdout.contains("FAIL"),
        "{}",
        failing.stdout
    );
    assert_eq!(
        run_cli(s(&["conformance", &should])).await.code,
        Some(0),
        "a SHOULD failure passes the default gate"
    );
    assert_eq!(
        run_cli(s(&["conformance", &should, "--fail-on", "should"]))
            .await
            .code,
        Some(1)
    );
    assert_eq!(
        run_cli(s(&["conformance", &must, "--skip", "as.pkce-s256"]))
            .await
            .code,
        Some(0)
    );
    let only = run_cli(s(&[
        "conformance",
        &must,
        "--only",
        "prm",
        "--format",
        "json",
    ]))
    .await;
    let json: serde_json::Value = serde_json::from_str(&only.stdout).unwrap();
    assert!(
        json["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"].as_str().unwrap().starts_with("prm."))
    );
    assert_eq!(json["schema_version"], 1);

    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(s(&[
        "conformance",
        &good,
        "--out",
        dir.path().to_str().unwrap(),
    ]))
    .await;
    assert_eq!(out.code, Some(0));
    for f in [
        "report.json",
        "report.md",
        "report.junit.xml",
        "report.sarif",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let junit = std::fs::read_to_string(dir.path().join("report.junit.xml")).unwrap();
    assert!(
        junit.starts_with("<?xml") && junit.contains("<testsuite"),
        "{junit}"
    );

    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = run_cli(s(&["conformance", &format!("http://{free}/mcp")])).await;
    assert_eq!(down.code, Some(2), "could not run: {}", down.stderr);
}
