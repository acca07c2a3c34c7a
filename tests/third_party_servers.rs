//! The tester against real third-party servers, installed from the package registries by
//! `.ci/run` at pinned versions (`tests/third_party/package.json` and `requirements.txt`): the
//! TypeScript SDK's OAuth example, and a FastMCP server with its in-memory OAuth provider. The
//! verdicts are snapshots, so a change that flips one shows up in review; every verdict that is
//! not a pass is listed below with why and where the spec says so, and a test fails when the
//! verdicts and that list part ways.
//!
//! A missing install fails these tests (with the command to run), never skips them.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod reports;
mod support;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use mcp_auth_conformance::{
    catalogue::CheckId,
    checks::Outcome,
    report::Report,
    run::{RunOptions, run},
};

/// Why a verdict other than a pass is right: the check, its outcome, and the reason with the
/// spec's words.
type Justified = (CheckId, Outcome, &'static str);

/// Verdicts both servers earn, for the same reasons.
const NO_SCOPE_IN_CHALLENGE: Justified = (
    CheckId::ChallengeScope,
    Outcome::Fail,
    "The 401's challenge has no scope: MCP Authorization, Protected Resource Metadata Discovery Requirements, servers SHOULD include it (RFC 6750 §3).",
);
const INSECURE_REDIRECT_REGISTERED: Justified = (
    CheckId::DcrRejectsInsecureRedirect,
    Outcome::Fail,
    "Registers http://client.example.com/callback: MCP Authorization, Communication Security, redirect URIs MUST be localhost or HTTPS.",
);
const CIMD_NOT_ADVERTISED: [Justified; 3] = [
    (
        CheckId::CimdAccepted,
        Outcome::Skip,
        "client_id_metadata_document_supported is not advertised (CIMD is optional).",
    ),
    (
        CheckId::CimdClientIdMismatchRefused,
        Outcome::Skip,
        "Depends on cimd.accepted.",
    ),
    (
        CheckId::CimdRedirectUnlistedRefused,
        Outcome::Skip,
        "Depends on cimd.accepted.",
    ),
];
/// Both demo ASes issue opaque access tokens: no JWT to forge a signature or key for.
const OPAQUE_TOKENS: [Justified; 2] = [
    (
        CheckId::TokenTamperedSignatureRejected,
        Outcome::Skip,
        "The demo AS issues opaque access tokens: there is no signature to tamper with.",
    ),
    (
        CheckId::TokenForeignKeyRejected,
        Outcome::Skip,
        "The demo AS issues opaque access tokens: there are no claims to sign with another key.",
    ),
];
const NOTHING_TO_GIVE: [Justified; 2] = [
    (
        CheckId::TokenExpiredRejected,
        Outcome::Skip,
        "No expired token of this AS to give (--expired-token).",
    ),
    (
        CheckId::TokenInsufficientScope,
        Outcome::Skip,
        "No tool beyond the token's scope to name (--step-up-tool).",
    ),
];

/// `@modelcontextprotocol/sdk` 1.32.2, `examples/server/simpleStreamableHttp.js --oauth`
/// (its demo AS auto-approves every sign-in), judged against 2025-11-25, which it speaks.
fn typescript_sdk_verdicts() -> Vec<Justified> {
    let own = [
        (
            CheckId::ChallengeNoErrorWithoutToken,
            Outcome::Fail,
            "A request with no token at all gets error=\"invalid_token\", error_description=\"Missing Authorization header\": RFC 6750 §3.1, the resource server SHOULD NOT include an error code when the request lacks authentication information.",
        ),
        (
            CheckId::AuthzCodeSingleUse,
            Outcome::Fail,
            "A code redeemed twice gets HTTP 500 server_error the second time (the demo provider throws a plain Error, which the SDK's token handler turns into a 500): OAuth 2.1 §4.1.2, the AS MUST deny the request, and a failure is not a denial (RFC 6749 §5.2: invalid_grant, HTTP 400).",
        ),
        (
            CheckId::AuthzCodeBoundToRedirect,
            Outcome::Fail,
            "A code is exchanged with a redirect_uri other than the authorization request's: OAuth 2.1 §10.2 and RFC 6749 §4.1.3, a redirect_uri sent to the token endpoint is held to the request's (a SHOULD here: OAuth 2.1 makes it a MUST only for an AS that also serves OAuth 2.0 clients).",
        ),
        (
            CheckId::AuthzCodeBoundToClient,
            Outcome::Fail,
            "A second client registered by DCR exchanges the first client's code (with the right verifier) for tokens: OAuth 2.1 §4.1.3, the AS MUST ensure the code was issued to the client_id in the request. A real bug in the demo provider: PKCE alone binds the code to whoever holds the verifier, not to the client.",
        ),
        (
            CheckId::AuthzForeignResourceRefused,
            Outcome::Warn,
            "Without --oauth-strict the demo AS issues a token for the other resource and the server accepts it (MCP Authorization, Token Handling and Access Token Privilege Restriction: servers MUST only accept tokens issued for themselves; RFC 8707 §2). A real bug, but the token is opaque, so the tester cannot read whom it was issued for and warns rather than fails: an AS may also ignore resource (RFC 8707 is its option) and issue a token for this server, which the server is right to accept (issue 24 item 8).",
        ),
        (
            CheckId::AuthzRefreshRotated,
            Outcome::Skip,
            "The demo AS issues no refresh token: nothing to judge.",
        ),
        (
            CheckId::AuthzRefreshBoundToClient,
            Outcome::Skip,
            "The demo AS issues no refresh token: nothing to present as another client.",
        ),
        (
            CheckId::AuthzRefreshNoWiderScope,
            Outcome::Skip,
            "The demo AS issues no refresh token: nothing to refresh asking for more.",
        ),
        (
            CheckId::TokenInvalidRejected,
            Outcome::Fail,
            "An invalid token gets HTTP 500 (the example's token verifier throws a plain Error, which the SDK's bearer middleware turns into server_error): MCP Authorization, Token Handling, invalid or expired tokens MUST receive a HTTP 401 response.",
        ),
        (
            CheckId::TokenInvalidTokenError,
            Outcome::Skip,
            "Depends on token.invalid-rejected.",
        ),
        (
            CheckId::TokenUnsignedRejected,
            Outcome::Fail,
            "An alg none JWT gets HTTP 500, as any invalid token does: MCP Authorization, Token Handling (401 MUST).",
        ),
        (
            CheckId::TransportOriginValidated,
            Outcome::Fail,
            "A request with Origin: https://dns-rebinding.example is served (the example's express app checks the Host header only): MCP Transports (2025-11-25), Security Warning, servers MUST validate Origin and answer an invalid one with 403.",
        ),
    ];
    [NO_SCOPE_IN_CHALLENGE, INSECURE_REDIRECT_REGISTERED]
        .into_iter()
        .chain(CIMD_NOT_ADVERTISED)
        .chain(NOTHING_TO_GIVE)
        .chain(OPAQUE_TOKENS)
        .chain(own)
        .collect()
}

/// `fastmcp` 4.2.3 with `InMemoryOAuthProvider` and DCR enabled, run by its `run_http_async`
/// (`tests/third_party/fastmcp_server.py`), judged against 2026-07-28, which it speaks.
fn fastmcp_verdicts() -> Vec<Justified> {
    let own = [
        (
            CheckId::AuthzCodeBoundToRedirect,
            Outcome::Warn,
            "A code exchanged with another redirect_uri is refused, but with invalid_request: RFC 6749 §5.2 names invalid_grant for a redirect URI that does not match the authorization request's (the refusal itself, the MUST, holds).",
        ),
        (
            CheckId::DcrRejectsScriptRedirect,
            Outcome::Fail,
            "Registers javascript:alert(document.domain)// as a redirect URI: MCP Authorization (2026-07-28), Security Considerations, Communication Security, \"All redirect URIs MUST be either localhost or use HTTPS\"; a real bug in the server (its DCR handler checks no scheme; the Python SDK's handler has the same, modelcontextprotocol/python-sdk#2629).",
        ),
        (
            CheckId::AsIssParameter,
            Outcome::Fail,
            "The AS metadata does not advertise authorization_response_iss_parameter_supported: MCP Authorization (2026-07-28), Authorization Response Validation, authorization servers SHOULD send iss (RFC 9207).",
        ),
        (
            CheckId::AuthzIssInResponse,
            Outcome::Skip,
            "iss is neither advertised nor sent (the SHOULD is judged by as.iss-parameter).",
        ),
        (
            CheckId::AuthzIssInErrorResponse,
            Outcome::Skip,
            "iss is neither advertised nor sent (the SHOULD is judged by as.iss-parameter).",
        ),
        (
            CheckId::AuthzForeignResourceRefused,
            Outcome::Warn,
            "InMemoryOAuthProvider ignores resource: a token asked for another resource is issued, and accepted here. Its token is opaque, so whom it was issued for cannot be read; an AS that ignores resource issues tokens for the server itself, which the server is right to accept (the MCP spec binds audiences when the AS supports RFC 8707), so this is a warning, not a MUST failure (issue 24 item 8).",
        ),
        (
            CheckId::TransportOriginValidated,
            Outcome::Fail,
            "A request with Origin: https://dns-rebinding.example is served: FastMCP's http_host_origin_protection setting defaults to off. MCP Transports (2026-07-28), Streamable HTTP, Security & Endpoint: servers MUST validate Origin and answer an invalid one with 403.",
        ),
    ];
    [NO_SCOPE_IN_CHALLENGE, INSECURE_REDIRECT_REGISTERED]
        .into_iter()
        .chain(CIMD_NOT_ADVERTISED)
        .chain(NOTHING_TO_GIVE)
        .chain(OPAQUE_TOKENS)
        .chain(own)
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A third-party server this test started; stopped when dropped.
struct Server {
    child: Child,
    url: url::Url,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `child`'s stdout until `ready` has seen every line it needs (then drains the rest in
/// the background, so the server never blocks on a full pipe); `None` if it ended first.
fn wait_for(child: &mut Child, mut ready: impl FnMut(&str) -> bool) -> bool {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let Ok(line) = line else { return false };
        if ready(&line) {
            std::thread::spawn(move || lines.for_each(drop));
            return true;
        }
    }
    false
}

/// The TypeScript SDK's OAuth example on two free loopback ports (it takes them from the
/// environment, so a port taken in between is retried).
fn typescript_sdk() -> Server {
    let dir = root().join("tests/third_party");
    assert!(
        dir.join("node_modules/@modelcontextprotocol/sdk/package.json")
            .exists(),
        "the TypeScript SDK is not installed: run\n  npm ci --prefix tests/third_party\n(.ci/run does)"
    );
    for _ in 0..5 {
        let (mcp, auth) = (support::free_port(), support::free_port());
        let mut child = Command::new("node")
            .arg(dir.join("typescript_sdk_server.mjs"))
            .arg("--oauth")
            .current_dir(&dir)
            .env("MCP_PORT", mcp.to_string())
            .env("MCP_AUTH_PORT", auth.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (it serves the TypeScript SDK's example)");
        let mut listening = 0;
        if wait_for(&mut child, |line| {
            listening += usize::from(line.contains("listening on port"));
            listening == 2
        }) {
            return Server {
                child,
                url: format!("http://localhost:{mcp}/mcp").parse().unwrap(),
            };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("the TypeScript SDK's example did not start (five tries)");
}

/// A FastMCP server with its in-memory OAuth provider, on a free loopback port.
fn fastmcp() -> Server {
    let python = support::venv_python();
    let installed = Command::new(&python)
        .args(["-c", "import fastmcp"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "FastMCP is not installed for {}: run\n  .venv/bin/python -m pip install -r tests/third_party/requirements.txt\n(.ci/run does; MCP_AUTH_KIT_PYTHON picks another Python)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root().join("tests/third_party/fastmcp_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the FastMCP server");
    let mut url = None;
    assert!(
        wait_for(&mut child, |line| {
            url = line.strip_prefix("READY ").map(str::to_owned);
            url.is_some()
        }),
        "the FastMCP server did not start"
    );
    Server {
        child,
        url: url.unwrap().parse().unwrap(),
    }
}

/// Every verdict that is not a pass is one of `justified`, and every one listed happened.
fn assert_justified(report: &Report, justified: Vec<Justified>) {
    let seen: Vec<(CheckId, Outcome)> = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| (r.id, r.outcome))
        .collect();
    let mut listed: Vec<(CheckId, Outcome)> =
        justified.iter().map(|(id, o, _)| (*id, *o)).collect();
    listed.sort_by_key(|(id, _)| *id);
    assert_eq!(
        seen,
        listed,
        "the verdicts changed: justify each one that is not a pass (with its citation) in this file\n{}",
        report.table()
    );
}

/// Runs the tester as a user would with nothing but the URL (both demo ASes sign in without a
/// form), bounded in time.
async fn judge(server: &Server) -> Report {
    tokio::time::timeout(
        Duration::from_secs(60),
        run(&server.url, &RunOptions::new(None)),
    )
    .await
    .expect("the run finishes within a minute")
    .unwrap()
}

/// Judges `server` and holds its verdicts to `justified` and to the snapshot `name`.
async fn holds(server: &Server, basis: &str, justified: Vec<Justified>, name: &str) {
    let report = judge(server).await;
    assert_eq!(report.revision_basis, basis);
    assert_justified(&report, justified);
    insta::assert_snapshot!(name, reports::stable(&report.table()));
    reports::assert_valid(&report);
}

#[tokio::test]
async fn the_typescript_sdk_oauth_example() {
    holds(
        &typescript_sdk(),
        "detected: server/discover is not understood; initialize agreed on 2025-11-25",
        typescript_sdk_verdicts(),
        "typescript_sdk",
    )
    .await;
}

#[tokio::test]
async fn fastmcp_with_its_in_memory_oauth_provider() {
    holds(
        &fastmcp(),
        "detected: server/discover lists 2026-07-28",
        fastmcp_verdicts(),
        "fastmcp",
    )
    .await;
}
