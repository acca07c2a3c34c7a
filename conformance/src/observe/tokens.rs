//! Phase five: what the MCP endpoint makes of tokens. With a valid token (given, or obtained by
//! the flows): the opening request and `tools/list`, the same token in the query, a step-up tool,
//! a request from a foreign `Origin`, the session alone without the token. Without one: tokens no
//! server may accept (garbage, an unsigned JWT, the expired token given, a token for another
//! resource).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use url::Url;

use super::{
    flow::{self, FlowObservations},
    forged,
    mcp::{Conversation, Speaker},
    request::send,
};
use crate::{
    client::token::unverified_claims,
    probe::{Exchange, Probe, rpc_response},
    revision::Revision,
};

/// The `Origin` of a page that is not the server's: a DNS-rebinding attacker's.
pub const FOREIGN_ORIGIN: &str = "https://dns-rebinding.example";

/// The request made with a token given as expired.
#[derive(Debug, Clone)]
pub struct ExpiredToken {
    /// The request.
    pub exchange: Exchange,
    /// Seconds since its `exp` claim (negative: not expired yet); `None` for an opaque token.
    pub expired_for: Option<i64>,
}

/// Every MCP request made with a token, and what came back.
#[derive(Debug, Clone, Default)]
pub struct TokenProbes {
    /// With the valid token: the opening request (`initialize` or `server/discover`) and
    /// `tools/list`, and whether each answered with a JSON-RPC result.
    pub with_token: Option<Vec<(Exchange, bool)>>,
    /// The opening request, `GET` and `DELETE`, with the valid token, from a foreign `Origin`.
    pub foreign_origin: Option<Vec<Exchange>>,
    /// 2025-11-25: `tools/list`, `GET` and `DELETE` in the session the valid token opened,
    /// without the token; or why there was none to make.
    pub session_only: Option<Result<Vec<Exchange>, String>>,
    /// `tools/call` of the step-up tool (`--step-up-tool`) with the valid token.
    pub step_up: Option<Exchange>,
    /// The step-up tool's name, when one was named.
    pub step_up_tool: Option<String>,
    /// The tool names `tools/list` gave with the valid token, when it gave a list.
    pub listed_tools: Option<Vec<String>>,
    /// The scope the valid token was granted, as far as the token response or the token's own
    /// claims (`scope`, `scp`) say.
    pub valid_scope: Option<Vec<String>>,
    /// The valid token in the query string, without the header.
    pub query_token: Option<Exchange>,
    /// 2026-07-28, with the valid token: a body whose `Mcp-Method` header names another method,
    /// and a `tools/call` whose `Mcp-Name` names another tool; each with the JSON-RPC error code
    /// of its answer, if it has one.
    pub header_mismatch: Option<Vec<(Exchange, Option<i64>)>>,
    /// The opening request with the valid token's signature altered; or why it could not be
    /// forged (an opaque token).
    pub tampered_signature: Option<Result<Exchange, forged::NotForgeable>>,
    /// The opening request with the valid token's claims signed by a key the AS never
    /// published; or why it could not be forged.
    pub foreign_key: Option<Result<Exchange, forged::NotForgeable>>,
    /// The opening request with the token the AS issued for another resource.
    pub foreign_resource: Option<Exchange>,
    /// A bearer token that is not a token at all.
    pub garbage_token: Exchange,
    /// An unsigned (`alg: none`) JWT naming the right issuer and audience.
    pub unsigned_token: Exchange,
    /// The expired token given to the run.
    pub expired_token: Option<ExpiredToken>,
}

/// What the token probes need.
pub struct Tokens<'a> {
    /// A valid token, if there is one.
    pub valid: Option<&'a str>,
    /// A token of the server's AS that has expired, if given.
    pub expired: Option<&'a str>,
    /// A tool the valid token's scope does not allow, if named.
    pub step_up_tool: Option<&'a str>,
    /// The issuer the PRM names, for the unsigned JWT.
    pub issuer: Option<&'a str>,
    /// The flows, for the token issued for another resource.
    pub flows: Option<&'a FlowObservations>,
}

impl TokenProbes {
    /// Makes every request; `speaker` speaks the revision judged against.
    pub async fn observe(probe: &Probe, target: &Url, speaker: &Speaker, t: Tokens<'_>) -> Self {
        let mut probes = TokenProbes {
            valid_scope: t.valid.and_then(|token| granted_scope(token, t.flows)),
            ..TokenProbes::default()
        };
        if let Some(token) = t.valid {
            probes
                .with_valid_token(probe, target, speaker, token, t.step_up_tool)
                .await;
        }
        let foreign = t
            .flows
            .and_then(|f| f.foreign.as_ref())
            .and_then(|a| a.token.as_ref())
            .and_then(|t| t.tokens.as_ref());
        if let Some(tokens) = foreign {
            probes.foreign_resource = Some(
                send(probe, target, Some(&tokens.access_token), speaker, &[])
                    .await
                    .exchange,
            );
        }
        // Tokens that no server may accept: nothing here needs a real sign-in.
        probes.garbage_token = send(probe, target, Some("not-a-valid-token"), speaker, &[])
            .await
            .exchange;
        let unsigned = unsigned_jwt(t.issuer.unwrap_or(target.as_str()), target.as_str());
        probes.unsigned_token = send(probe, target, Some(&unsigned), speaker, &[])
            .await
            .exchange;
        if let Some(expired) = t.expired {
            let exp = unverified_claims(expired).and_then(|c| c["exp"].as_i64());
            probes.expired_token = Some(ExpiredToken {
                exchange: send(probe, target, Some(expired), speaker, &[])
                    .await
                    .exchange,
                expired_for: exp.map(|exp| unix_now() - exp),
            });
        }
        probes
    }

    async fn with_valid_token(
        &mut self,
        probe: &Probe,
        target: &Url,
        speaker: &Speaker,
        token: &str,
        step_up_tool: Option<&str>,
    ) {
        let mut conversation =
            Conversation::open(probe, target, Some(token), speaker.clone()).await;
        let listed = conversation
            .request("tools/list", serde_json::json!({}))
            .await;
        self.listed_tools = rpc_response(&listed).and_then(|r| {
            let tools = r["result"]["tools"].as_array()?;
            Some(
                tools
                    .iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_owned))
                    .collect(),
            )
        });
        self.with_token = Some(vec![
            (
                conversation.opened.exchange.clone(),
                conversation.opened_ok(),
            ),
            (
                listed.exchange.clone(),
                rpc_response(&listed).is_some_and(|r| r.get("result").is_some()),
            ),
        ]);
        if speaker.revision() == Revision::R2025_11_25 {
            self.session_only = Some(match conversation.session() {
                Some(session) => Ok(without_token_in(probe, target, speaker, session).await),
                None => Err("the server opened no session (Mcp-Session-Id) to try".to_owned()),
            });
        }
        let origin = [("Origin", FOREIGN_ORIGIN.to_owned())];
        let mut foreign = vec![
            send(probe, target, Some(token), speaker, &origin)
                .await
                .exchange,
        ];
        let headers = [
            (
                "MCP-Protocol-Version",
                speaker.revision().as_str().to_owned(),
            ),
            ("Origin", FOREIGN_ORIGIN.to_owned()),
        ];
        for method in ["GET", "DELETE"] {
            let answer = probe
                .mcp_without_body(method, target, Some(token), &headers)
                .await;
            foreign.push(answer.exchange);
        }
        self.foreign_origin = Some(foreign);
        if let Some(tool) = step_up_tool {
            self.step_up = Some(flow::call_tool(target, probe, token, tool, speaker).await);
            self.step_up_tool = Some(tool.to_owned());
        }
        let mut in_query = target.clone();
        in_query
            .query_pairs_mut()
            .append_pair("access_token", token);
        self.query_token = Some(send(probe, &in_query, None, speaker, &[]).await.exchange);
        if speaker.revision() == Revision::R2026_07_28 {
            self.header_mismatch = Some(header_mismatch(probe, target, speaker, token).await);
        }
        self.tampered_signature =
            Some(send_forged(probe, target, speaker, forged::tampered_signature(token)).await);
        self.foreign_key = Some(
            send_forged(
                probe,
                target,
                speaker,
                forged::signed_by_a_foreign_key(token),
            )
            .await,
        );
    }

    /// Every MCP request that carried a token, for the checks that look at all of them.
    pub fn carrying_a_token(&self) -> Vec<&Exchange> {
        let mut all: Vec<&Exchange> = Vec::new();
        all.extend(self.with_token.iter().flatten().map(|(e, _)| e));
        all.extend(self.foreign_origin.iter().flatten());
        all.extend(self.header_mismatch.iter().flatten().map(|(e, _)| e));
        all.extend(self.step_up.iter());
        all.extend(self.query_token.iter());
        all.extend(
            [&self.tampered_signature, &self.foreign_key]
                .into_iter()
                .filter_map(|p| p.as_ref()?.as_ref().ok()),
        );
        all.push(&self.garbage_token);
        all.push(&self.unsigned_token);
        all.extend(self.expired_token.iter().map(|t| &t.exchange));
        all.extend(self.foreign_resource.iter());
        all
    }

    /// Whether the valid token was accepted: every request made with it answered with a
    /// result (what `token.accepted` judges, and what a refusal of another token is measured
    /// against).
    pub fn valid_token_accepted(&self) -> bool {
        self.with_token
            .as_ref()
            .is_some_and(|seen| seen.iter().all(|(_, ok)| *ok))
    }
}

/// Requests whose standard headers disagree with their body: `tools/list` sent as `ping`, and a
/// `tools/call` of one tool named as another. A server that goes by the body serves them.
async fn header_mismatch(
    probe: &Probe,
    target: &Url,
    speaker: &Speaker,
    token: &str,
) -> Vec<(Exchange, Option<i64>)> {
    let version = (
        "MCP-Protocol-Version",
        speaker.revision().as_str().to_owned(),
    );
    let listed = speaker.request(91, "tools/list", serde_json::json!({}));
    let called = speaker.request(
        92,
        "tools/call",
        serde_json::json!({"name": MISMATCHED_TOOL, "arguments": {}}),
    );
    let cases = [
        (
            listed,
            vec![version.clone(), ("Mcp-Method", "ping".to_owned())],
        ),
        (
            called,
            vec![
                version,
                ("Mcp-Method", "tools/call".to_owned()),
                ("Mcp-Name", format!("{MISMATCHED_TOOL}-other")),
            ],
        ),
    ];
    let mut seen = Vec::new();
    for (body, headers) in cases {
        let answer = probe
            .post_mcp_with(target, &body, Some(token), &headers)
            .await;
        let code = rpc_response(&answer).and_then(|r| r["error"]["code"].as_i64());
        seen.push((answer.exchange, code));
    }
    seen
}

/// The tool the mismatched `tools/call` names in its body (it need not exist: the mismatch is
/// refused before any tool is looked up).
pub const MISMATCHED_TOOL: &str = "mcp-auth-conformance-probe";

/// What the valid token was granted: the token response's `scope` when the flows obtained it,
/// else the token's own `scope` (a string) or `scp` (a list) claim.
fn granted_scope(token: &str, flows: Option<&FlowObservations>) -> Option<Vec<String>> {
    let split = |s: &str| {
        s.split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let from_flow = flows
        .and_then(|f| f.main.as_ref())
        .and_then(|a| a.token.as_ref())
        .and_then(|t| t.tokens.as_ref())
        .filter(|t| t.access_token == token)
        .and_then(|t| t.scope.as_deref())
        .map(split);
    from_flow.or_else(|| {
        let claims = unverified_claims(token)?;
        match (&claims["scope"], &claims["scp"]) {
            (serde_json::Value::String(s), _) => Some(split(s)),
            (_, serde_json::Value::Array(list)) => Some(
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        }
    })
}

/// The opening request with a forged token, if one could be made.
async fn send_forged(
    probe: &Probe,
    target: &Url,
    speaker: &Speaker,
    token: Result<String, forged::NotForgeable>,
) -> Result<Exchange, forged::NotForgeable> {
    let token = token?;
    Ok(send(probe, target, Some(&token), speaker, &[])
        .await
        .exchange)
}

/// `tools/list`, then `GET` and `DELETE`, in `session`, as a client of that session sends
/// them, but without its token (`DELETE` last: a server that takes it ends the session).
async fn without_token_in(
    probe: &Probe,
    target: &Url,
    speaker: &Speaker,
    session: &str,
) -> Vec<Exchange> {
    let body = speaker.request(90, "tools/list", serde_json::json!({}));
    let mut headers = speaker.headers(&body);
    headers.push(("Mcp-Session-Id", session.to_owned()));
    let listed = probe.post_mcp_with(target, &body, None, &headers).await;
    let mut seen = vec![listed.exchange];
    let headers = [
        (
            "MCP-Protocol-Version",
            speaker.revision().as_str().to_owned(),
        ),
        ("Mcp-Session-Id", session.to_owned()),
    ];
    for method in ["GET", "DELETE"] {
        let answer = probe.mcp_without_body(method, target, None, &headers).await;
        seen.push(answer.exchange);
    }
    seen
}

/// A JWT with `alg: none`, claims a lax server might accept: the issuer, this resource as
/// audience, a future expiry.
fn unsigned_jwt(issuer: &str, resource: &str) -> String {
    let now = unix_now();
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(
            serde_json::json!({"iss": issuer, "aud": resource, "sub": "mcp-auth-conformance", "token_use": "access", "iat": now, "exp": now + 300})
        )
    )
}

/// Seconds since the Unix epoch.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
