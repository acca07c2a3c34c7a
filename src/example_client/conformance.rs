//! `xtask client --conformance SERVER_URL`: the example client as a conformance harness runs a
//! client under test (the official MCP conformance suite's `client --command`). The harness
//! says, in the environment, which scenario runs (`MCP_CONFORMANCE_SCENARIO`, only reported:
//! the client behaves the same in every scenario), the revision to speak
//! (`MCP_CONFORMANCE_PROTOCOL_VERSION`) and, for some scenarios, a pre-registered client
//! (`MCP_CONFORMANCE_CONTEXT`). The client registers however the server allows, signs in as
//! every 401 and 403 asks, lists the server's tools and calls each one that takes no
//! arguments; it exits 0 when all of that worked.

use anyhow::{Context, bail};
use mcp_auth_conformance::{client::browser::Credentials, revision::Revision};
use url::Url;

use super::{
    headless::{Driver, text},
    settings::{ClientSettings, PreRegistered},
};

/// The client metadata document URL the official suite's harness stands for: its mock
/// authorization servers take it as the client's published document without fetching it
/// (`@modelcontextprotocol/conformance`, scenario `auth/basic-cimd`).
pub const SUITE_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

/// What the harness said in the environment.
#[derive(Debug)]
pub struct Harness {
    /// The scenario's name, if given (reported, never acted on).
    pub scenario: Option<String>,
    /// The revision to speak.
    pub revision: Revision,
    /// Why that revision.
    pub revision_basis: String,
    /// The pre-registered client the context gives, if any.
    pub pre_registered: Option<PreRegistered>,
}

impl Harness {
    /// Reads `MCP_CONFORMANCE_SCENARIO`, `MCP_CONFORMANCE_PROTOCOL_VERSION` and
    /// `MCP_CONFORMANCE_CONTEXT`.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (revision, revision_basis) = revision(var("MCP_CONFORMANCE_PROTOCOL_VERSION"))?;
        let pre_registered = match var("MCP_CONFORMANCE_CONTEXT") {
            Some(context) => pre_registered(&context)?,
            None => None,
        };
        Ok(Self {
            scenario: var("MCP_CONFORMANCE_SCENARIO"),
            revision,
            revision_basis,
            pre_registered,
        })
    }
}

/// The revision for a `MCP_CONFORMANCE_PROTOCOL_VERSION` value.
fn revision(value: Option<String>) -> anyhow::Result<(Revision, String)> {
    let Some(value) = value else {
        return Ok((
            Revision::R2025_11_25,
            "MCP_CONFORMANCE_PROTOCOL_VERSION is not set: 2025-11-25".into(),
        ));
    };
    if let Some(r) = Revision::parse(&value) {
        return Ok((r, format!("MCP_CONFORMANCE_PROTOCOL_VERSION={value}")));
    }
    // Earlier dated revisions share the 2025-11-25 handshake, which negotiates the version.
    if value.len() == 10 && value.as_str() < Revision::R2025_11_25.as_str() {
        return Ok((
            Revision::R2025_11_25,
            format!(
                "MCP_CONFORMANCE_PROTOCOL_VERSION={value}: the initialize handshake, which negotiates it"
            ),
        ));
    }
    bail!(
        "MCP_CONFORMANCE_PROTOCOL_VERSION={value:?}: this client speaks 2025-11-25 and 2026-07-28"
    )
}

/// The pre-registered client a `MCP_CONFORMANCE_CONTEXT` names (`client_id`, and
/// `client_secret` for a confidential one).
fn pre_registered(context: &str) -> anyhow::Result<Option<PreRegistered>> {
    let json: serde_json::Value =
        serde_json::from_str(context).context("MCP_CONFORMANCE_CONTEXT is not JSON")?;
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(text("client_id").map(|client_id| PreRegistered {
        client_id,
        client_secret: text("client_secret"),
    }))
}

/// Runs the client against `server` (see the module's documentation).
pub async fn run(
    server: Url,
    metadata_url: Url,
    credentials: Option<Credentials>,
) -> anyhow::Result<()> {
    let harness = Harness::from_env()?;
    eprintln!(
        "Conformance client for {server}: scenario {}, MCP {} ({}); registration: {}",
        harness.scenario.as_deref().unwrap_or("(not named)"),
        harness.revision.as_str(),
        harness.revision_basis,
        match &harness.pre_registered {
            Some(p) => format!(
                "the pre-registered client {} from MCP_CONFORMANCE_CONTEXT",
                p.client_id
            ),
            None => format!("CIMD as {metadata_url} when offered, else DCR"),
        }
    );
    let source = match harness.pre_registered {
        Some(_) => "MCP_CONFORMANCE_CONTEXT",
        None => "the server's authorization server",
    };
    let settings = ClientSettings::automatic(
        server,
        harness.revision,
        harness.pre_registered,
        metadata_url,
        source.into(),
    );
    let mut driver = Driver::new(settings, credentials);
    let listed = driver.request("tools/list", serde_json::json!({})).await?;
    for tool in callable_without_arguments(&listed) {
        let result = driver.call_tool(&tool, serde_json::json!({})).await?;
        println!("\n{tool} -> {}\n", text(&result));
    }
    Ok(())
}

/// The tools of a `tools/list` result that need no arguments: those whose input schema
/// requires none.
fn callable_without_arguments(listed: &serde_json::Value) -> Vec<String> {
    listed["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["inputSchema"]["required"]
                .as_array()
                .is_none_or(|r| r.is_empty())
        })
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harness_revision() {
        let r = |v: &str| revision(Some(v.into())).map(|(r, _)| r);
        assert_eq!(r("2026-07-28").unwrap(), Revision::R2026_07_28);
        assert_eq!(r("2025-11-25").unwrap(), Revision::R2025_11_25);
        assert_eq!(r("2025-06-18").unwrap(), Revision::R2025_11_25);
        assert!(r("2027-01-01").is_err());
        assert!(r("draft").is_err());
        assert_eq!(revision(None).unwrap().0, Revision::R2025_11_25);
    }

    #[test]
    fn the_context_names_a_pre_registered_client() {
        let p = pre_registered(
            r#"{"name":"auth/pre-registration","client_id":"pre","client_secret":"hunter2"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.client_id, "pre");
        assert_eq!(p.client_secret.as_deref(), Some("hunter2"));
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(pre_registered(r#"{"name":"x"}"#).unwrap().is_none());
        assert!(pre_registered("not json").is_err());
    }

    #[test]
    fn only_tools_without_required_arguments_are_called() {
        let listed = serde_json::json!({"tools": [
            {"name": "test-tool", "inputSchema": {"type": "object"}},
            {"name": "whoami", "inputSchema": {"type": "object", "required": []}},
            {"name": "notes_add", "inputSchema": {"type": "object", "required": ["text"]}}
        ]});
        assert_eq!(callable_without_arguments(&listed), ["test-tool", "whoami"]);
    }
}
