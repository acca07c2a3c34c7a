//! MCP requests as a client of each revision makes them: 2025-11-25 opens a session with the
//! `initialize` handshake; 2026-07-28 has no handshake, and every request carries its protocol
//! version, client identity and method in `_meta` and in headers. Also the detection of the
//! revision a server speaks.

use url::Url;

use crate::{
    probe::{Answer, Probe, rpc_response},
    revision::Revision,
};

/// The tester as an MCP client.
const CLIENT_NAME: &str = "mcp-auth-conformance";

/// JSON-RPC error code of `UnsupportedProtocolVersionError` (2026-07-28).
const UNSUPPORTED_VERSION: i64 = -32022;

/// Builds MCP requests for one revision.
#[derive(Debug, Clone)]
pub struct Speaker {
    revision: Revision,
    client_name: String,
    client_version: String,
}

impl Speaker {
    /// The tester speaking `revision`.
    pub fn new(revision: Revision) -> Self {
        Self::as_client(revision, CLIENT_NAME, env!("CARGO_PKG_VERSION"))
    }

    /// Another client (`name`, `version`) speaking `revision`.
    pub fn as_client(revision: Revision, name: &str, version: &str) -> Self {
        Self {
            revision,
            client_name: name.to_owned(),
            client_version: version.to_owned(),
        }
    }

    /// The revision spoken.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The method a client of this revision opens with.
    pub fn opening_method(&self) -> &'static str {
        match self.revision {
            Revision::R2025_11_25 => "initialize",
            Revision::R2026_07_28 => "server/discover",
        }
    }

    /// The first request a client sends: `initialize` (2025-11-25) or `server/discover`.
    pub fn opening(&self) -> serde_json::Value {
        match self.revision {
            Revision::R2025_11_25 => serde_json::json!({
                "jsonrpc": "2.0", "id": 1, "method": self.opening_method(),
                "params": {
                    "protocolVersion": self.revision.as_str(),
                    "capabilities": {},
                    "clientInfo": {"name": self.client_name, "version": self.client_version}
                }
            }),
            Revision::R2026_07_28 => self.request(1, self.opening_method(), serde_json::json!({})),
        }
    }

    /// A request; on 2026-07-28 with the per-request `_meta` the revision requires.
    pub fn request(
        &self,
        id: u64,
        method: &str,
        mut params: serde_json::Value,
    ) -> serde_json::Value {
        if self.revision == Revision::R2026_07_28 {
            params["_meta"] = serde_json::json!({
                "io.modelcontextprotocol/protocolVersion": self.revision.as_str(),
                "io.modelcontextprotocol/clientInfo": {"name": self.client_name, "version": self.client_version},
                "io.modelcontextprotocol/clientCapabilities": {}
            });
        }
        serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    }

    /// The headers that go with `body`: the protocol version, and on 2026-07-28 `Mcp-Method`
    /// and `Mcp-Name`.
    pub fn headers(&self, body: &serde_json::Value) -> Vec<(&'static str, String)> {
        let mut headers = vec![("MCP-Protocol-Version", self.revision.as_str().to_owned())];
        if self.revision == Revision::R2026_07_28 {
            if let Some(method) = body["method"].as_str() {
                headers.push(("Mcp-Method", method.to_owned()));
            }
            let name = body["params"]["name"]
                .as_str()
                .or(body["params"]["uri"].as_str());
            if let Some(name) = name.filter(|n| n.bytes().all(|b| b.is_ascii_graphic())) {
                headers.push(("Mcp-Name", name.to_owned()));
            }
        }
        headers
    }
}

/// A conversation with the MCP endpoint: the opening request, then requests in its session
/// (2025-11-25) or on their own (2026-07-28).
pub struct Conversation<'a> {
    probe: &'a Probe,
    target: &'a Url,
    token: Option<&'a str>,
    speaker: Speaker,
    session: Option<String>,
    next_id: u64,
    /// The answer to the opening request.
    pub opened: Answer,
}

impl<'a> Conversation<'a> {
    /// Sends the opening request; on 2025-11-25, also `notifications/initialized` in the
    /// session the server opened, if any.
    pub async fn open(
        probe: &'a Probe,
        target: &'a Url,
        token: Option<&'a str>,
        speaker: Speaker,
    ) -> Conversation<'a> {
        let opening = speaker.opening();
        let opened = probe
            .post_mcp_with(target, &opening, token, &speaker.headers(&opening))
            .await;
        let conversation = Conversation {
            probe,
            target,
            token,
            session: opened.session_id.clone(),
            speaker,
            next_id: 2,
            opened,
        };
        if conversation.speaker.revision() == Revision::R2025_11_25 {
            let initialized =
                serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            conversation.post(&initialized).await;
        }
        conversation
    }

    /// The session the server opened (`Mcp-Session-Id`), if any.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Whether the opening request was answered with a JSON-RPC result.
    pub fn opened_ok(&self) -> bool {
        rpc_response(&self.opened).is_some_and(|r| r.get("result").is_some())
    }

    /// Sends `method` with `params`.
    pub async fn request(&mut self, method: &str, params: serde_json::Value) -> Answer {
        let body = self.speaker.request(self.next_id, method, params);
        self.next_id += 1;
        self.post(&body).await
    }

    async fn post(&self, body: &serde_json::Value) -> Answer {
        let mut headers = self.speaker.headers(body);
        if let Some(session) = &self.session {
            headers.push(("Mcp-Session-Id", session.clone()));
        }
        self.probe
            .post_mcp_with(self.target, body, self.token, &headers)
            .await
    }
}

/// The revision a server was judged against, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The revision the server speaks, when the tester could tell.
    pub revision: Option<Revision>,
    /// How it was told, or why it could not be.
    pub basis: String,
}

/// Asks the server which revision it speaks, as the spec lets a client: `server/discover`
/// (2026-07-28; its `supportedVersions`, or the `supported` list of an unsupported-version
/// error), and when that is not understood, the `initialize` handshake of 2025-11-25. The
/// newest revision the server lists that the tester knows wins.
pub async fn detect(probe: &Probe, target: &Url, token: &str) -> Detection {
    let modern = Conversation::open(
        probe,
        target,
        Some(token),
        Speaker::new(Revision::R2026_07_28),
    )
    .await;
    let reply = rpc_response(&modern.opened);
    let listed = reply.as_ref().and_then(|r| {
        r.pointer("/result/supportedVersions").or_else(|| {
            (r.pointer("/error/code").and_then(|c| c.as_i64()) == Some(UNSUPPORTED_VERSION))
                .then(|| r.pointer("/error/data/supported"))
                .flatten()
        })
    });
    if let Some(listed) = listed.and_then(|l| l.as_array()) {
        let versions: Vec<&str> = listed.iter().filter_map(|v| v.as_str()).collect();
        let newest = [Revision::R2026_07_28, Revision::R2025_11_25]
            .into_iter()
            .find(|r| versions.contains(&r.as_str()));
        return Detection {
            revision: newest,
            basis: match newest {
                Some(_) => format!("server/discover lists {}", versions.join(", ")),
                None => format!(
                    "server/discover lists {}, none of which the tester judges",
                    versions.join(", ")
                ),
            },
        };
    }
    if modern.opened.exchange.status == Some(401) || modern.opened.exchange.status == Some(403) {
        return Detection {
            revision: None,
            basis: format!(
                "the token was refused ({})",
                modern.opened.exchange.status.unwrap_or_default()
            ),
        };
    }
    let legacy = Conversation::open(
        probe,
        target,
        Some(token),
        Speaker::new(Revision::R2025_11_25),
    )
    .await;
    let agreed = rpc_response(&legacy.opened)
        .and_then(|r| r.pointer("/result/protocolVersion").cloned())
        .and_then(|v| v.as_str().map(str::to_owned));
    match agreed {
        Some(v) => Detection {
            revision: Revision::parse(&v),
            basis: match Revision::parse(&v) {
                Some(_) => format!("server/discover is not understood; initialize agreed on {v}"),
                None => format!("initialize agreed on {v}, which the tester does not judge"),
            },
        },
        None => Detection {
            revision: None,
            basis: "neither server/discover nor initialize was answered with a result".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_requests_carry_meta_and_headers() {
        let s = Speaker::new(Revision::R2026_07_28);
        let body = s.request(7, "tools/call", serde_json::json!({"name": "whoami"}));
        assert_eq!(
            body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(
            s.headers(&body),
            [
                ("MCP-Protocol-Version", "2026-07-28".to_owned()),
                ("Mcp-Method", "tools/call".to_owned()),
                ("Mcp-Name", "whoami".to_owned())
            ]
        );
        assert_eq!(s.opening()["method"], "server/discover");
    }

    #[test]
    fn legacy_requests_open_with_initialize() {
        let s = Speaker::new(Revision::R2025_11_25);
        assert_eq!(s.opening()["method"], "initialize");
        assert_eq!(s.opening()["params"]["protocolVersion"], "2025-11-25");
        let body = s.request(2, "tools/list", serde_json::json!({}));
        assert!(body["params"].get("_meta").is_none());
        assert_eq!(
            s.headers(&body),
            [("MCP-Protocol-Version", "2025-11-25".to_owned())]
        );
    }
}
