//! Test harness: the AWS emulator (moto, started once per test file: each module of `tests/it.rs`
//! has its own copy of this one) and the `xtask` binary pointed at it with dummy credentials.
//! Nothing here can reach real AWS: every command gets `AWS_ENDPOINT_URL` set to the emulator, and
//! the instance-metadata lookup is disabled.

#![allow(
    dead_code,
    reason = "each test file that includes this module uses a part of it"
)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Mutex, OnceLock},
};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running emulator. It exits when its stdin closes, i.e. when this test process ends.
pub struct Emulator {
    pub endpoint: String,
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

/// The Python the tests use: `MCP_AUTH_KIT_PYTHON`, else the workspace's `.venv` (which may not
/// exist yet).
pub fn venv_python() -> PathBuf {
    std::env::var_os("MCP_AUTH_KIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"))
}

/// A free loopback port for a server that must name its port before it binds (a deployed
/// resource URI). Chosen at random below the kernel's ephemeral range (32768 and up, where
/// port-0 binds and outgoing connections take theirs), so a test running beside it cannot take
/// it between this check and the server's bind, as a port-0 pick could lose it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new();
    (0u32..)
        .map(|attempt| 20_000 + (random.hash_one(attempt) % 12_000) as u16)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port between 20000 and 32000")
}

/// The Python that has moto and cfn-lint: `MCP_AUTH_KIT_PYTHON`, else the workspace's `.venv`.
pub fn python() -> PathBuf {
    if std::env::var_os("MCP_AUTH_KIT_PYTHON").is_some() {
        return venv_python();
    }
    let venv = venv_python();
    assert!(
        venv.exists(),
        "the AWS emulator needs a Python with moto, and {} does not exist. Create it with\n  \
         python3 -m venv .venv && .venv/bin/pip install -r tests/aws-emulator/requirements.txt\n\
         (.ci/run does this), or point MCP_AUTH_KIT_PYTHON at a Python that has moto[server].",
        venv.display()
    );
    venv
}

/// The emulator shared by every test of this binary, started on first use.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(Emulator::start)
}

impl Emulator {
    /// An emulator of its own, for a test that stops or pauses it.
    pub fn start() -> Self {
        let mut child = Command::new(python())
            .arg(root().join("tests/aws-emulator/emulator.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the AWS emulator (tests/aws-emulator/emulator.py)");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the emulator's READY line");
        let endpoint = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the emulator did not start; it said {line:?}"))
            .trim()
            .to_owned();
        let stdin = child.stdin.take().expect("emulator stdin");
        Emulator {
            endpoint,
            _child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self._child.lock().unwrap().id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// Freezes the emulator (SIGSTOP): connections are accepted, nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused emulator go on (SIGCONT), with whatever requests queued meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Stops the emulator for good: connections are refused.
    pub fn kill(&self) {
        let mut child = self._child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Environment variables that could point a command at real AWS or change its behaviour.
const SCRUBBED: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_CLOUDFORMATION",
    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "MCP_AUTH_KIT_STACK",
];

/// `xtask` with no AWS settings at all, except that nothing can reach real AWS.
pub fn bare_xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for var in SCRUBBED {
        cmd.env_remove(var);
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1");
    cmd
}

/// `xtask` pointed at the emulator, with dummy credentials and a region.
pub fn xtask() -> Command {
    let mut cmd = bare_xtask();
    cmd.env("AWS_ENDPOINT_URL", &emulator().endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    cmd
}

/// SDK configuration for talking to the emulator directly from a test.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_at(&emulator().endpoint).await
}

/// SDK configuration for an emulator at `endpoint`.
pub async fn sdk_config_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::for_tests())
        .load()
        .await
}

/// A CloudFormation template as JSON, parsed by cfn-lint (which knows the short-form tags such
/// as `!Ref` and `!Sub`).
pub fn cfn_template(path: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .args([
            "-c",
            "import json, sys\nfrom cfnlint.decode import decode\ntemplate, problems = \
             decode(sys.argv[1])\nassert not problems, problems\nprint(json.dumps(template, \
             default=str))",
        ])
        .arg(path)
        .output()
        .expect("run cfn-lint's decoder");
    assert!(
        out.status.success(),
        "cfn-lint could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the decoder prints JSON")
}

/// What a finished command said.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "command failed:\n{self:#?}");
        self
    }

    /// Asserts failure with exit code 1 and no panic, and returns self.
    #[track_caller]
    pub fn failed(self) -> Self {
        assert_eq!(self.code, Some(1), "expected exit code 1:\n{self:#?}");
        assert!(
            !self.stderr.contains("panicked"),
            "it panicked:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.starts_with("error: ") || self.stderr.contains("\nerror: "),
            "{}",
            self.stderr
        );
        self
    }
}

/// Runs `cmd` with `args`.
pub fn run(mut cmd: Command, args: &[&str]) -> Run {
    let out = cmd.args(args).output().expect("run xtask");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Parses a dotenv file we wrote into key/value pairs (values unquoted).
pub fn read_env(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.to_owned(), v.trim_matches('"').to_owned())
        })
        .collect()
}

/// The value of `key` in an env file's pairs.
pub fn env_value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {pairs:?}"))
}

/// insta filters for values that change from run to run.
pub fn volatile_filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"us-east-1_[0-9a-f]{32}", "[POOL_ID]"),
        (r"\b[0-9a-f]{26}\b", "[CLIENT_ID]"),
        (r"StateTable-[0-9A-Z]{12}", "StateTable-[SUFFIX]"),
        (r"\b\d\d:\d\d:\d\d\b", "[TIME]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    ]
}

/// An example client's page (`cargo xtask client`) on a free loopback port; stopped when dropped.
pub struct ClientPage {
    /// Where the page is.
    pub url: url::Url,
    child: Child,
}

impl ClientPage {
    /// Starts `cargo xtask client --registration <registration>` for the MCP endpoint `server`
    /// and waits for the line that says where it listens.
    pub fn start(registration: &str, server: &str) -> Self {
        use std::io::BufRead;
        let mut child = bare_xtask()
            .args([
                "client",
                "--registration",
                registration,
                "--port",
                "0",
                "--server",
                server,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the example client");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("read its first line");
        let url = line
            .trim()
            .strip_prefix("Open ")
            .unwrap_or_else(|| panic!("not the page's address: {line:?}"))
            .parse()
            .expect("a URL");
        Self { url, child }
    }
}

impl Drop for ClientPage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A table shaped like the stack's façade state table (pk/sk), fresh for each call.
pub async fn state_table(client: &aws_sdk_dynamodb::Client, name: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let table = format!(
        "state-{name}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    table
}

/// The development AS on a port of its own, as the façade's upstream (Cognito's place) for a
/// façade public at `public`: approving without a form, as an upstream single sign-on session
/// would. Returns its issuer and the façade's client there.
pub async fn dev_as_upstream(public: &str) -> (String, mcp_auth_server::dev_as::DevClient) {
    use mcp_auth_server::dev_as::{self, DevAsConfig, DevAuthServer, DevClient, DevUser};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}{}", listener.local_addr().unwrap(), dev_as::MOUNT);
    let client = DevClient {
        id: "facade".into(),
        secret: Some("facade-secret".into()),
        redirect_uris: vec![format!("{public}/oauth/callback")],
        name: "façade".into(),
    };
    let dev = DevAuthServer::new(DevAsConfig {
        issuer: issuer.clone(),
        resource: format!("{public}/mcp").parse().unwrap(),
        resource_scopes: vec!["mcp:read".into(), "mcp:write".into()],
        clients: vec![client.clone()],
        user: DevUser {
            username: "dev@example.com".into(),
            password: "unused".into(),
            subject: "user-1".into(),
        },
        auto_approve: true,
        token_lifetime: std::time::Duration::from_secs(600),
    })
    .unwrap();
    let app = axum::Router::new().nest(dev_as::MOUNT, dev.router());
    tokio::spawn(axum::serve(listener, app).into_future());
    (issuer, client)
}

/// A façade public at `public` (served from `listener`), signing in at `upstream` (see
/// [`dev_as_upstream`]), its state in `store`, its browser bindings under `csrf_key`.
pub fn facade_assembly(
    listener: tokio::net::TcpListener,
    public: &str,
    upstream: &(String, mcp_auth_server::dev_as::DevClient),
    store: std::sync::Arc<dyn mcp_auth_server::facade::store::Store>,
    csrf_key: &[u8],
) -> mcp_auth_server::runtime::Assembly {
    let (issuer, client) = upstream;
    let at = |path: &str| format!("{issuer}{path}").parse().unwrap();
    mcp_auth_server::runtime::Assembly {
        listener,
        resource: format!("{public}/mcp").parse().unwrap(),
        upstream_issuer: issuer.clone(),
        upstream_jwks: None,
        upstream: mcp_auth_server::facade::UpstreamConfig {
            authorization_endpoint: at("/oauth2/authorize"),
            token_endpoint: at("/oauth2/token"),
            client_id: client.id.clone(),
            client_secret: client.secret.clone().unwrap(),
            redirect_uri: client.redirect_uris[0].parse().unwrap(),
            revocation_endpoint: Some(at("/oauth2/revoke")),
            resource_at_token_endpoint: false,
        },
        store,
        allowed_origins: vec![],
        allowed_hosts: vec!["127.0.0.1".into()],
        extra: axum::Router::new(),
        loopback_cimd: Some(Default::default()),
        csrf_key: csrf_key.to_vec(),
        introspection: None,
        trusted_proxies: Default::default(),
    }
}
