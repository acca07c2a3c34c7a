//! Proof that the conformance checks mean something: each fails on a server that breaks its
//! rule (the fixture, one fault per check, keyed by the check's id), everything passes on a
//! conforming fixture and on the bundled server, and the verdicts hold where a careless tester
//! goes wrong: a credential another check spent, a refusal for the wrong reason, a server that
//! echoes every credential or sends hostile text, flags that select nothing.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod fixture;
mod reports;
mod support;

use fixture::Fault;
use mcp_auth_conformance::{
    catalogue::{CheckId, Level},
    checks::Outcome,
    client::{browser::Credentials, token::ClientAuth},
    observe::flow::Login,
    report::Report,
    revision::Revision,
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

/// As [`options`], but the tester obtains its token by signing in.
fn signing_in() -> RunOptions {
    RunOptions {
        token: None,
        ..options()
    }
}

fn outcome(report: &Report, id: CheckId) -> Outcome {
    report
        .results
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("{id} not run:\n{}", report.table()))
        .outcome
}

fn reason(report: &Report, id: CheckId) -> &str {
    &report.results.iter().find(|r| r.id == id).unwrap().reason
}

/// The revision a check is proven on: the current one when it applies there.
fn revision_for(id: CheckId) -> Revision {
    let revisions = id.check().revisions;
    if revisions.contains(&Revision::R2026_07_28) {
        Revision::R2026_07_28
    } else {
        revisions[0]
    }
}

/// The fixture's faults are keyed by check: for every check in the catalogue, the fixture
/// breaking that check's rule makes it fail (so a check without a fault fails this test).
#[tokio::test]
async fn every_check_fails_on_its_fault() {
    for id in CheckId::ALL.iter().copied() {
        let target = fixture::start(&[Fault::Breaks(id)]).await;
        let report = run(
            &target,
            &RunOptions {
                revision: Some(revision_for(id)),
                ..options()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            outcome(&report, id),
            Outcome::Fail,
            "{id} under its fault:\n{}",
            report.table()
        );
        let level = id.check().level;
        assert_eq!(
            report.exit_code(Level::Must),
            i32::from(level == Level::Must),
            "{id}: the gate"
        );
        assert_eq!(
            report.exit_code(Level::Should),
            i32::from(level <= Level::Should),
            "{id}: --fail-on should"
        );
        insta::assert_snapshot!(
            format!("fault_{}", id.as_str().replace('.', "_")),
            reports::stable(&report.table())
        );
    }
}

#[tokio::test]
async fn a_conforming_fixture_passes_everything() {
    let target = fixture::start(&[]).await;
    for revision in [Revision::R2026_07_28, Revision::R2025_11_25] {
        let report = run(
            &target,
            &RunOptions {
                revision: Some(revision),
                ..options()
            },
        )
        .await
        .unwrap();
        let failed: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .map(|r| r.id)
            .collect();
        assert!(failed.is_empty(), "{}", report.table());
    }
}

/// Issue 12, item 1: the fixture revokes the access token of a refreshed pair, as OAuth allows
/// (FastMCP's in-memory provider does too). The refresh probe has a pair of its own, so the
/// token the other checks judge with is never spent. (Before: token.accepted failed, 401.)
#[tokio::test]
async fn a_refresh_spends_no_token_another_check_judges() {
    let target = fixture::start(&[]).await;
    let report = run(&target, &signing_in()).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::AuthzRefreshRotated),
        Outcome::Pass,
        "{}",
        report.table()
    );
    for id in [
        CheckId::TokenAccepted,
        CheckId::TokenQueryRefused,
        CheckId::TransportOriginValidated,
        CheckId::TokenInsufficientScope,
    ] {
        assert_eq!(outcome(&report, id), Outcome::Pass, "{}", report.table());
    }
    assert_eq!(report.summary.fail, 0, "{}", report.table());
}

/// Issue 12, item 2: a server that repeats every credential it saw or issued (access, refresh
/// and ID tokens, codes, verifiers, client secrets, the tokens given), as is, base64url and
/// percent-encoded, in headers, redirects and bodies, leaves no copy in any report format.
#[tokio::test]
async fn no_credential_reaches_any_report_format() {
    let machine = RunOptions {
        token: None,
        login: Login::ClientCredentials(ClientAuth::Basic {
            id: fixture::MACHINE_CLIENT.0.into(),
            secret: fixture::MACHINE_CLIENT.1.into(),
        }),
        ..options()
    };
    let signed_in = signing_in();
    let mut formats = Vec::new();
    let mut credentials = vec![fixture::expired_token(), fixture::MACHINE_CLIENT.1.into()];
    for options in [options(), signed_in, machine] {
        // A fixture per run: each run can only hide what it has seen.
        let served = fixture::serve(&[Fault::EchoCredentials]).await;
        let report = run(&served.url, &options).await.unwrap();
        assert!(
            report
                .json()
                .contains(mcp_auth_conformance::secrets::REDACTED),
            "the fixture echoed nothing?\n{}",
            report.json()
        );
        formats.extend(reports::every_format(&report));
        credentials.extend(served.credentials());
    }
    assert!(
        credentials.iter().any(|c| c.starts_with("id-token"))
            && credentials.iter().any(|c| c.starts_with("client-secret"))
            && credentials.iter().any(|c| c.starts_with("code-"))
            && credentials.iter().any(|c| c.starts_with("refresh-")),
        "{credentials:?}"
    );
    for credential in &credentials {
        for form in reports::encodings(credential) {
            for (name, text) in &formats {
                assert!(
                    !text.contains(&form),
                    "{name} holds {form:?} (a form of {credential:?}):\n{text}"
                );
            }
        }
    }
}

/// Issue 12, item 3: a refusal counts only for the right reason.
#[tokio::test]
async fn a_refusal_counts_only_for_the_right_reason() {
    // A 2025-11-25 server that accepts tokens for any resource and answers 400 "No valid
    // session ID" to anything but initialize. Judged as 2026-07-28, the foreign token's
    // server/discover gets that 400: the token was never judged, and neither was the valid one.
    let sessions = fixture::start(&[
        Fault::LegacyOnly,
        Fault::SessionRequired,
        Fault::Breaks(CheckId::AuthzForeignResourceRefused),
    ])
    .await;
    let report = run(&sessions, &signing_in()).await.unwrap();
    assert_eq!(outcome(&report, CheckId::TokenAccepted), Outcome::Fail);
    assert_eq!(
        outcome(&report, CheckId::AuthzForeignResourceRefused),
        Outcome::Skip,
        "{}",
        report.table()
    );
    // Asked in its own revision, the same server is caught accepting the foreign token.
    let report = run(
        &sessions,
        &RunOptions {
            token: None,
            revision: None,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.revision, Revision::R2025_11_25);
    assert_eq!(
        outcome(&report, CheckId::AuthzForeignResourceRefused),
        Outcome::Fail,
        "{}",
        report.table()
    );
    assert!(
        reason(&report, CheckId::AuthzForeignResourceRefused).contains("accepted a token"),
        "{}",
        report.table()
    );

    // An AS that fails (500 server_error) where it should refuse has not refused.
    let failing = fixture::start(&[Fault::ForeignRefusedAtToken, Fault::ServerErrors]).await;
    let report = run(&failing, &options()).await.unwrap();
    for id in [
        CheckId::AuthzForeignResourceRefused,
        CheckId::AuthzPkceRequired,
        CheckId::AuthzPkcePlainRefused,
        CheckId::AuthzVerifierChecked,
        CheckId::AuthzCodeSingleUse,
        CheckId::AuthzRedirectUnregisteredRefused,
        CheckId::AuthzRefreshRotated,
    ] {
        assert_eq!(
            outcome(&report, id),
            Outcome::Fail,
            "{id}:\n{}",
            report.table()
        );
        assert!(
            reason(&report, id).contains("a fault, not a refusal"),
            "{id}: {}",
            reason(&report, id)
        );
    }
}

/// Issue 12, item 7: a dependency of a selected check is judged after its own dependencies
/// (before: `--only prm.resource-matches` on a server without PRM panicked), and the failure
/// that blocked it is reported with it, so selecting cannot hide it.
#[tokio::test]
async fn a_selected_check_whose_dependencies_fail_is_skipped() {
    let target = fixture::start(&[Fault::Breaks(CheckId::PrmDiscoverable)]).await;
    for only in [
        CheckId::PrmResourceMatches,
        CheckId::AsIssParameter,
        CheckId::DcrEchoesMetadata,
    ] {
        let report = run(
            &target,
            &RunOptions {
                only: vec![only.as_str().into()],
                ..options()
            },
        )
        .await
        .unwrap();
        let ids: Vec<CheckId> = report.results.iter().map(|r| r.id).collect();
        assert_eq!(ids, [CheckId::PrmDiscoverable, only], "{}", report.table());
        assert_eq!(outcome(&report, CheckId::PrmDiscoverable), Outcome::Fail);
        assert_eq!(outcome(&report, only), Outcome::Skip);
        assert!(
            reason(&report, only).starts_with("depends on"),
            "{}",
            report.table()
        );
        assert_eq!(report.exit_code(Level::Must), 1);
    }
    // A dependency skipped by name stays out.
    let report = run(
        &target,
        &RunOptions {
            only: vec!["prm.resource-matches".into()],
            skip: vec!["prm.discoverable".into()],
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.results.len(), 1, "{}", report.table());
}

/// Issue 12, item 8: text a server sends cannot break a report.
#[tokio::test]
async fn a_hostile_server_cannot_break_a_report() {
    let target = fixture::start(&[
        Fault::Hostile,
        Fault::Breaks(CheckId::ChallengeNoErrorWithoutToken),
    ])
    .await;
    let report = run(
        &target,
        &RunOptions {
            revision: None,
            ..options()
        },
    )
    .await
    .unwrap();
    let hostile_reasons = report
        .results
        .iter()
        .filter(|r| r.reason.contains("</testsuite>"))
        .count();
    assert!(hostile_reasons >= 2, "{}", report.table());
    assert!(
        report.revision_basis.contains('\u{1b}'),
        "{}",
        report.revision_basis
    );
    reports::assert_valid(&report);
}

/// A token from the client credentials grant stands in for one given with --token; with a wrong
/// secret there is none, and the checks that need one skip rather than pass. (The fixture hands
/// out no DCR client here, so the code flow cannot supply a token instead.)
#[tokio::test]
async fn client_credentials_obtain_the_token() {
    // No client to sign in as: registration hands out none, metadata documents are refused.
    let target = fixture::start(&[
        Fault::Breaks(CheckId::DcrRegisters),
        Fault::Breaks(CheckId::CimdAccepted),
    ])
    .await;
    let with = |secret: &str| RunOptions {
        token: None,
        login: Login::ClientCredentials(ClientAuth::Basic {
            id: fixture::MACHINE_CLIENT.0.into(),
            secret: secret.into(),
        }),
        ..options()
    };
    let report = run(&target, &with(fixture::MACHINE_CLIENT.1))
        .await
        .unwrap();
    assert_eq!(
        outcome(&report, CheckId::TokenAccepted),
        Outcome::Pass,
        "{}",
        report.table()
    );
    assert_eq!(
        outcome(&report, CheckId::AuthzCodeFlow),
        Outcome::Skip,
        "{}",
        report.table()
    );
    let report = run(&target, &with("wrong")).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::TokenAccepted),
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
    let dual = fixture::start(&[]).await;
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
            .any(|r| r.id == CheckId::AuthzIssInResponse)
    );

    let legacy = fixture::start(&[Fault::LegacyOnly]).await;
    let report = run(&legacy, &detect(Some(fixture::VALID_TOKEN)))
        .await
        .unwrap();
    assert_eq!(report.revision, Revision::R2025_11_25, "{}", report.table());
    assert_eq!(
        report.revision_basis,
        "detected: server/discover is not understood; initialize agreed on 2025-11-25"
    );
    // Checks of the newer revision only are not judged; those of the older one are.
    assert!(
        !report
            .results
            .iter()
            .any(|r| r.id == CheckId::AuthzIssInResponse)
    );
    assert_eq!(
        outcome(&report, CheckId::TokenSessionNotAuthentication),
        Outcome::Pass
    );
    assert_eq!(
        reason(&report, CheckId::TokenAccepted),
        "initialize and tools/list answered with results"
    );

    // No token given, and none to be had: the fixture's registration hands out no client, and
    // it refuses metadata documents.
    let closed = fixture::start(&[
        Fault::LegacyOnly,
        Fault::Breaks(CheckId::DcrRegisters),
        Fault::Breaks(CheckId::CimdAccepted),
    ])
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
    let target = fixture::start(&[]).await;
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
    let outcomes = |report: &Report| {
        report
            .results
            .iter()
            .filter(|r| r.id.area() == "cimd")
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
    let good = fixture::start(&[]).await;
    let report = run(&good, &cimd(vec![a.clone(), b.clone()])).await.unwrap();
    assert!(
        outcomes(&report)
            .iter()
            .all(|(_, o, _)| *o == Outcome::Pass),
        "{}",
        report.table()
    );
    let lax = fixture::start(&[Fault::Breaks(CheckId::CimdClientIdMismatchRefused)]).await;
    let report = run(&lax, &cimd(vec![a.clone(), b])).await.unwrap();
    assert!(
        outcomes(&report).contains(&(
            CheckId::CimdClientIdMismatchRefused,
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

/// A server that repeats the token of a request is caught, and the report shows where.
#[tokio::test]
async fn echoed_tokens_are_caught_and_never_reach_the_report() {
    let target = fixture::start(&[Fault::Breaks(CheckId::TransportTokenNotEchoed)]).await;
    let json = run(&target, &options()).await.unwrap().json();
    assert!(json.contains("invalid token: [the token]"), "{json}");
    assert!(!json.contains("not-a-valid-token"), "{json}");
    assert!(!json.contains(&fixture::expired_token()), "{json}");
}

#[tokio::test]
async fn prm_not_json_fails_the_json_check() {
    let target = fixture::start(&[Fault::PrmNotJson]).await;
    let report = run(&target, &options()).await.unwrap();
    assert_eq!(outcome(&report, CheckId::PrmJsonObject), Outcome::Fail);
    assert!(
        reason(&report, CheckId::PrmJsonObject).contains("not a JSON object"),
        "{}",
        report.table()
    );
}

/// Issue 13: Protected Resource Metadata found at the root well-known URI names the origin it
/// was built from (RFC 9728 §3.3), as the official suite's `auth/metadata-var2` server does:
/// a pass (before, the tester wanted the MCP endpoint there and failed it); the endpoint itself
/// there is a warning, anything else a failure. Everything else still passes.
#[tokio::test]
async fn prm_at_the_root_names_the_origin() {
    let target = fixture::start(&[Fault::PrmAtRoot]).await;
    let report = run(&target, &options()).await.unwrap();
    let wrong: Vec<_> = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Warn))
        .map(|r| r.id)
        .collect();
    assert!(wrong.is_empty(), "{}", report.table());
    assert_eq!(outcome(&report, CheckId::PrmResourceMatches), Outcome::Pass);
    assert!(
        reason(&report, CheckId::PrmDiscoverable).contains("the root well-known URI"),
        "{}",
        report.table()
    );
    let target = fixture::start(&[Fault::PrmAtRootNamesEndpoint]).await;
    let report = run(&target, &options()).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::PrmResourceMatches),
        Outcome::Warn,
        "{}",
        report.table()
    );
    assert_eq!(report.exit_code(Level::Should), 0, "{}", report.table());
}

/// Issue 13: without a scope in the challenge, the tester's sign-ins ask for the PRM's
/// `scopes_supported`, as the spec's scope selection strategy tells clients (before, they
/// asked for no scope at all).
#[tokio::test]
async fn without_a_challenge_scope_the_sign_in_asks_for_the_prms_scopes() {
    let target = fixture::start(&[Fault::Breaks(CheckId::ChallengeScope)]).await;
    let report = run(&target, &signing_in()).await.unwrap();
    let code_flow = report
        .results
        .iter()
        .find(|r| r.id == CheckId::AuthzCodeFlow)
        .unwrap();
    assert_eq!(code_flow.outcome, Outcome::Pass, "{}", report.table());
    let authorize: Vec<&str> = code_flow
        .evidence
        .iter()
        .map(|e| e.url.as_str())
        .filter(|u| u.starts_with("/authorize?"))
        .collect();
    assert!(
        !authorize.is_empty() && authorize.iter().all(|u| u.contains("scope=files:read")),
        "{authorize:?}"
    );
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
    assert_eq!(
        outcome(&report, CheckId::TokenAccepted),
        Outcome::Pass,
        "{}",
        report.table()
    );
    assert_eq!(report.summary.fail, 0, "{}", report.table());
    assert_eq!(report.summary.skip, 0, "{}", report.table());
    insta::assert_snapshot!("bundled_server", reports::stable(&report.table()));
    insta::assert_snapshot!("bundled_server_json", reports::stable(&report.json()));
    reports::assert_valid(&report);
    server.shutdown().await.unwrap();
}

/// Issue 24 item 10: a step-up tool the token is not short of proves nothing of the server:
/// one the server does not list (a misspelt name), or any tool when the token holds every scope
/// the server lists. Skipped with the reason, never failed.
#[tokio::test]
async fn a_step_up_the_token_is_not_short_of_is_skipped_not_failed() {
    let server = mcp_auth_server::local::LocalServer::start(mcp_auth_server::local::LocalOptions {
        auto_approve: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let target: url::Url = server.resource.as_str().parse().unwrap();
    let misspelt = RunOptions {
        step_up_tool: Some("write_note".into()),
        ..RunOptions::new(None)
    };
    let report = run(&target, &misspelt).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::TokenInsufficientScope),
        Outcome::Skip
    );
    let why = reason(&report, CheckId::TokenInsufficientScope);
    assert!(
        why.contains("write_note is not among the tools the server lists"),
        "{why}"
    );
    assert!(why.contains("notes_add"), "{why}");
    // Asking for every scope the server lists: the token covers notes_add.
    let everything = RunOptions {
        step_up_tool: Some("notes_add".into()),
        scope: Some("mcp:read mcp:write".into()),
        ..RunOptions::new(None)
    };
    let report = run(&target, &everything).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::TokenInsufficientScope),
        Outcome::Skip,
        "{}",
        report.table()
    );
    let why = reason(&report, CheckId::TokenInsufficientScope);
    assert!(why.contains("holds every scope the server lists"), "{why}");
    assert_eq!(report.summary.fail, 0, "{}", report.table());
    server.shutdown().await.unwrap();
}

/// Issue 24 item 8: an AS that ignores `resource` issues its token for this server itself; the
/// server accepting that token is right, so the check is skipped (with why), not failed. The
/// same server accepting a token that names the other resource fails.
#[tokio::test]
async fn a_foreign_resource_is_judged_by_the_audience_the_token_was_issued_for() {
    let lenient = fixture::start(&[Fault::IgnoresResource]).await;
    let report = run(&lenient, &signing_in()).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::AuthzForeignResourceRefused),
        Outcome::Skip,
        "{}",
        report.table()
    );
    assert!(
        reason(&report, CheckId::AuthzForeignResourceRefused).contains("for this server itself")
    );
    assert_eq!(report.summary.fail, 0, "{}", report.table());
    let accepting = fixture::start(&[Fault::Breaks(CheckId::AuthzForeignResourceRefused)]).await;
    let report = run(&accepting, &signing_in()).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::AuthzForeignResourceRefused),
        Outcome::Fail
    );
    assert!(
        reason(&report, CheckId::AuthzForeignResourceRefused)
            .contains("aud https://mcp.other.example/mcp")
    );
}

/// Issue 24 item 9: an AS that refuses the tester's `http://` metadata document without
/// fetching it does what the CIMD rules ask (https); skipped with what to do, never failed. One
/// that fetched it and refused all the same fails (`every_check_fails_on_its_fault`).
#[tokio::test]
async fn an_https_only_cimd_server_is_not_failed_for_refusing_a_loopback_document() {
    let strict = fixture::start(&[Fault::CimdHttpsOnly]).await;
    let report = run(&strict, &signing_in()).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::CimdAccepted),
        Outcome::Skip,
        "{}",
        report.table()
    );
    let why = reason(&report, CheckId::CimdAccepted);
    assert!(
        why.contains("must be https") && why.contains("--cimd-url"),
        "{why}"
    );
    assert_eq!(report.summary.fail, 0, "{}", report.table());
}

/// Issue 24 item 12: an AS whose registration gives no client (here DCR broken; as well, no DCR
/// at all, as the 2026 revision prefers) but that takes the tester's metadata document gets the
/// whole code flow judged with the CIMD client, instead of a row of skips.
#[tokio::test]
async fn without_a_registered_client_the_flows_sign_in_by_metadata_document() {
    let target = fixture::start(&[Fault::Breaks(CheckId::DcrRegisters)]).await;
    let report = run(&target, &signing_in()).await.unwrap();
    assert_eq!(
        outcome(&report, CheckId::AuthzCodeFlow),
        Outcome::Pass,
        "{}",
        report.table()
    );
    assert!(reason(&report, CheckId::AuthzCodeFlow).contains("metadata document"));
    for id in [
        CheckId::AuthzPkceRequired,
        CheckId::AuthzVerifierChecked,
        CheckId::AuthzCodeSingleUse,
        CheckId::AuthzRefreshRotated,
        CheckId::TokenAccepted,
    ] {
        assert_eq!(
            outcome(&report, id),
            Outcome::Pass,
            "{id}: {}",
            report.table()
        );
    }
    // Only the client binding needs a second client, which only DCR gives.
    assert_eq!(
        outcome(&report, CheckId::AuthzCodeBoundToClient),
        Outcome::Skip
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_cannot_be_judged() {
    let free = format!("127.0.0.1:{}", support::free_port());
    let err = run(&format!("http://{free}/mcp").parse().unwrap(), &options())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("nothing is listening there"),
        "{err}"
    );
}

/// Runs the CLI with `args` (off the async runtime, which serves the fixture).
async fn run_cli(args: Vec<String>) -> support::Run {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::run(support::bare_xtask(), &args)
    })
    .await
    .unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The CLI on a fixture: exit codes make it a CI gate, and --out writes every format.
#[tokio::test]
async fn the_cli_is_a_ci_gate() {
    let must = fixture::start(&[Fault::Breaks(CheckId::AsPkceS256)])
        .await
        .to_string();
    let should = fixture::start(&[Fault::Breaks(CheckId::ChallengeScope)])
        .await
        .to_string();
    let good = fixture::start(&[]).await.to_string();
    let s = strings;

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

    let free = format!("127.0.0.1:{}", support::free_port());
    let down = run_cli(s(&["conformance", &format!("http://{free}/mcp")])).await;
    assert_eq!(down.code, Some(2), "could not run: {}", down.stderr);
}

/// Issue 12, item 7: a typo in `--only` or `--skip` is an error that names the known ids, not a
/// run of nothing that passes; and a selected check on a server where its dependencies fail is
/// skipped, not a panic (before: exit 101).
#[tokio::test]
async fn flags_never_crash_or_silently_pass() {
    let no_prm = fixture::start(&[Fault::Breaks(CheckId::PrmDiscoverable)])
        .await
        .to_string();
    let selected = run_cli(strings(&[
        "conformance",
        &no_prm,
        "--only",
        "prm.resource-matches",
    ]))
    .await;
    assert_eq!(selected.code, Some(1), "{selected:#?}");
    assert!(!selected.stderr.contains("panicked"), "{}", selected.stderr);
    assert!(
        selected.stdout.contains("depends on prm.json-object")
            && selected.stdout.contains("prm.discoverable"),
        "{}",
        selected.stdout
    );
    for flag in ["--only", "--skip"] {
        let typo = run_cli(strings(&[
            "conformance",
            &no_prm,
            flag,
            "prm.resource-matchs",
        ]))
        .await;
        assert_eq!(typo.code, Some(2), "{typo:#?}");
        assert!(
            typo.stderr.contains("\"prm.resource-matchs\"")
                && typo.stderr.contains("prm.resource-matches"),
            "{}",
            typo.stderr
        );
    }
}

/// Issue 12, item 7: no combination of flags makes the CLI panic; each run exits 0, 1 or 2.
#[test]
fn random_flag_combinations_never_panic() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let targets: Vec<String> = [
        vec![],
        vec![Fault::Breaks(CheckId::PrmDiscoverable)],
        vec![Fault::Breaks(CheckId::AsMetadataDiscoverable)],
        vec![Fault::Breaks(CheckId::ChallengeBearer)],
        vec![Fault::LegacyOnly, Fault::SessionRequired],
        vec![Fault::Hostile],
    ]
    .iter()
    .map(|faults| runtime.block_on(fixture::start(faults)).to_string())
    .collect();
    let id = prop_oneof![
        proptest::sample::select(
            CheckId::ALL
                .iter()
                .map(|id| id.as_str().to_owned())
                .collect::<Vec<_>>()
        ),
        proptest::sample::select(
            CheckId::ALL
                .iter()
                .map(|id| id.area().to_owned())
                .collect::<Vec<_>>()
        ),
        "[a-z.\\-]{0,12}",
    ];
    let flag = prop_oneof![
        id.clone().prop_map(|v| vec!["--only".to_owned(), v]),
        id.prop_map(|v| vec!["--skip".to_owned(), v]),
        proptest::sample::select(vec!["2025-11-25", "2026-07-28", "2027-01-01"])
            .prop_map(|v| vec!["--spec".to_owned(), v.to_owned()]),
        proptest::sample::select(vec!["table", "json", "markdown", "junit", "sarif", "xml"])
            .prop_map(|v| vec!["--format".to_owned(), v.to_owned()]),
        proptest::sample::select(vec!["must", "should", "may"])
            .prop_map(|v| vec!["--fail-on".to_owned(), v.to_owned()]),
        "\\PC{0,40}".prop_map(|v| vec!["--token".to_owned(), v]),
        "\\PC{0,40}".prop_map(|v| vec!["--expired-token".to_owned(), v]),
        "\\PC{0,20}".prop_map(|v| vec!["--scope".to_owned(), v]),
        "\\PC{0,20}".prop_map(|v| vec!["--step-up-tool".to_owned(), v]),
        "[a-z:]{0,12}".prop_map(|v| vec!["--client-credentials".to_owned(), v]),
        proptest::sample::select(vec!["none", "form", "interactive-nope"])
            .prop_map(|v| vec!["--login".to_owned(), v.to_owned()]),
        "\\PC{0,12}".prop_map(|v| vec!["--username".to_owned(), v]),
        "[a-z:/.]{0,20}".prop_map(|v| vec!["--cimd-url".to_owned(), v]),
    ];
    let config = ProptestConfig {
        cases: 40,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(target in 0..targets.len(), flags in proptest::collection::vec(flag, 0..6))| {
        let mut args = vec!["conformance".to_owned(), targets[target].clone()];
        args.extend(flags.into_iter().flatten());
        let ran = runtime.block_on(run_cli(args.clone()));
        prop_assert!(
            matches!(ran.code, Some(0..=2)),
            "{args:?} exited {:?}:\n{}",
            ran.code,
            ran.stderr
        );
        prop_assert!(!ran.stderr.contains("panicked"), "{args:?}:\n{}", ran.stderr);
    });
}

/// docs/conformance.md's check list is the catalogue's: a check added, removed or re-levelled
/// without the doc fails here (`UPDATE_DOCS=1` rewrites the list).
#[test]
fn the_documented_check_list_is_the_catalogue() {
    let path = support::root().join("docs/conformance.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- checks:start -->\n", "<!-- checks:end -->");
    let (before, rest) = doc.split_once(start).expect("the doc marks its check list");
    let (listed, after) = rest.split_once(end).expect("the check list ends");
    let mut table = String::from(
        "| id | level | revisions | rule | citation |\n| --- | --- | --- | --- | --- |\n",
    );
    for id in CheckId::ALL {
        let check = id.check();
        let revisions = if check.revisions.len() == 2 {
            "both".to_owned()
        } else {
            check
                .revisions
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        table.push_str(&format!(
            "| `{id}` | {} | {revisions} | {} | [{}]({}) |\n",
            check.level.as_str(),
            check.title.replace('|', "\\|"),
            check.citation.section.replace('|', "\\|"),
            check.citation.url
        ));
    }
    if listed != table {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{before}{start}{table}{end}{after}")).unwrap();
        } else {
            panic!(
                "docs/conformance.md's check list differs from the catalogue; run\n  UPDATE_DOCS=1 cargo test --test it conformance_checks::the_documented_check_list\nExpected:\n{table}"
            );
        }
    }
}
