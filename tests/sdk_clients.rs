//! Real SDK clients sign in to the bundled server and call its tools: the TypeScript SDK
//! (`@modelcontextprotocol/sdk`'s `Client`, `StreamableHTTPClientTransport` and
//! `OAuthClientProvider`) and the Python SDK (`mcp`'s `OAuthClientProvider` on
//! `streamable_http_client`), pinned in `tests/third_party/` and installed by `.ci/run`.
//!
//! Each runs the authorization code flow through the façade's consent page and the development
//! AS's sign-in form (the scripts play the person at the browser, nothing else: no back door),
//! then `tools/list`, `tools/call whoami`, and `notes_add`, which needs `mcp:write`: a 403
//! `insufficient_scope` the client must step up from. Their transcripts are snapshots.
//!
//! A missing install fails these tests with the command to run, never skips them.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use mcp_auth_server::{
    facade::cimd::LoopbackDocuments,
    local::{LocalOptions, LocalServer},
};
use serde_json::Value;

fn third_party() -> PathBuf {
    support::root().join("tests/third_party")
}

/// Node and the pinned SDK, or a failure that says how to install them.
fn node() -> Command {
    let sdk = third_party().join("node_modules/@modelcontextprotocol/sdk/package.json");
    assert!(
        sdk.exists(),
        "the TypeScript SDK is not installed ({} is missing): run\n  \
         npm ci --prefix tests/third_party\n(.ci/run does this)",
        sdk.display()
    );
    Command::new("node")
}

/// The Python with the pinned `mcp` SDK, or a failure that says how to install it.
fn python() -> Command {
    let venv = support::root().join(".venv/bin/python");
    let python = std::env::var_os("MCP_AUTH_KIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or(venv);
    let has_sdk = Command::new(&python)
        .args(["-c", "import mcp.client.auth, httpx2"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_sdk,
        "the Python SDK (mcp) is not installed in {}: run\n  \
         .venv/bin/pip install -r tests/third_party/requirements.txt\n(.ci/run does this)",
        python.display()
    );
    Command::new(python)
}

/// Runs an SDK client script against a fresh server as its development user; returns its
/// transcript (one JSON value a line), after checking it exited 0.
async fn transcript(client: Command) -> Vec<Value> {
    transcript_with(client, LocalOptions::default()).await
}

/// [`transcript`], against a server started with `options`.
async fn transcript_with(client: Command, options: LocalOptions) -> Vec<Value> {
    let (output, stdout) = run_against(client, options).await;
    assert!(
        output.status.success(),
        "the SDK client failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    lines(&stdout)
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs an SDK client script against a fresh server with `options`; its output and stdout.
async fn run_against(mut client: Command, options: LocalOptions) -> (Output, String) {
    let server = LocalServer::start(options).await.unwrap();
    client
        .arg(server.resource.as_str())
        .env("MCP_USERNAME", &server.user.username)
        .env("MCP_PASSWORD", &server.user.password)
        .current_dir(third_party());
    let output = tokio::task::spawn_blocking(move || client.output())
        .await
        .unwrap()
        .expect("start the SDK client");
    server.shutdown().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

/// The resource a transcript's authorization requests named, made stable for snapshots.
fn redacted(mut steps: Vec<Value>) -> Vec<Value> {
    for step in &mut steps {
        if step.get("resource").is_some_and(Value::is_string) {
            step["resource"] = "[the server's /mcp]".into();
        }
    }
    steps
}

#[tokio::test]
async fn the_typescript_sdk_signs_in_by_dcr_and_steps_up() {
    let mut client = node();
    client
        .arg("typescript_sdk_client.mjs")
        .env("MCP_REGISTRATION", "dcr");
    insta::assert_yaml_snapshot!(redacted(transcript(client).await));
}

/// A development CA and a certificate it issued for 127.0.0.1, as PEM files in `dir`: the
/// certificate's paths for the document's https server, and the CA's for `serve --dev-ca`.
struct DevelopmentPki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl DevelopmentPki {
    fn issue(dir: &Path) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let pki = Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&pki.ca, ca.pem()).unwrap();
        std::fs::write(&pki.cert, leaf.pem()).unwrap();
        std::fs::write(&pki.key, key.serialize_pem()).unwrap();
        pki
    }

    /// The TypeScript SDK client, registering by a metadata document served over https.
    fn cimd_client(&self) -> Command {
        let mut client = node();
        client
            .arg("typescript_sdk_client.mjs")
            .env("MCP_REGISTRATION", "cimd")
            .env("MCP_CIMD_TLS_CERT", &self.cert)
            .env("MCP_CIMD_TLS_KEY", &self.key);
        client
    }
}

/// The SDK takes only https metadata URLs (`isHttpsUrl`), so the document is served over https
/// on loopback by a certificate of a development CA the server is told to trust (`serve
/// --dev-ca`), as a developer would try CIMD on one machine.
#[tokio::test]
async fn the_typescript_sdk_signs_in_by_cimd_and_steps_up() {
    let dir = tempfile::tempdir().unwrap();
    let pki = DevelopmentPki::issue(dir.path());
    let options = LocalOptions {
        loopback_documents: LoopbackDocuments::trusting(&pki.ca).unwrap(),
        ..LocalOptions::default()
    };
    insta::assert_yaml_snapshot!(redacted(transcript_with(pki.cimd_client(), options).await));
}

/// The development CA is what makes the document trusted: without it the same client is
/// refused, the certificate being one no trusted root issued.
#[tokio::test]
async fn a_metadata_document_behind_an_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = DevelopmentPki::issue(dir.path());
    let (output, stdout) = run_against(pki.cimd_client(), LocalOptions::default()).await;
    assert!(
        !output.status.success(),
        "signed in with an untrusted document:\n{stdout}"
    );
    let failed = lines(&stdout).pop().unwrap();
    assert_eq!(failed["step"], "failed", "{stdout}");
    insta::assert_yaml_snapshot!(failed);
}

#[tokio::test]
async fn the_python_sdk_signs_in_by_dcr_and_steps_up() {
    let mut client = python();
    client.arg("python_sdk_client.py");
    insta::assert_yaml_snapshot!(redacted(transcript(client).await));
}
