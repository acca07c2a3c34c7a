//! The session's MCP requests, in the revision it speaks, and what a refusal asks of the caller.

use mcp_auth_conformance::{
    probe::{Answer, rpc_response},
    revision::Revision,
    www_authenticate::Challenge,
};

use super::{
    Session, Step, Stopped,
    conversation::{Reply, ToolOutcome},
    one_line, status,
};

impl Session {
    /// Sends an MCP request with the token held (if any), opening the conversation first when
    /// it is not open yet. A 401 or a 403 `insufficient_scope` is for the caller to act on.
    pub async fn send(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<Reply, Stopped> {
        let token = self.fresh_token().await?;
        if !self.conversation.opened
            && let Some(reply) = self.open(token.as_deref()).await?
        {
            return Ok(reply);
        }
        let body = self.conversation.request(method, params);
        let answer = self.post(&body, token.as_deref()).await;
        let name = step_name(method);
        if let Some(reply) = self.refusal(&body, &answer) {
            return Ok(reply);
        }
        match rpc_response(&answer).map(|r| (r.get("result").cloned(), r)) {
            Some((Some(result), _)) => {
                self.record(Step::ok(
                    name,
                    summary(method, &body, &result),
                    vec![answer.exchange],
                ))?;
                Ok(Reply::Result(result))
            }
            Some((None, r)) => self.stop(
                name,
                format!(
                    "{method} was answered with an error: {}",
                    one_line(&r["error"].to_string())
                ),
                vec![answer.exchange],
            ),
            None => self.stop(
                name,
                format!(
                    "{method} was not answered with JSON-RPC: {}",
                    status(&answer)
                ),
                vec![answer.exchange],
            ),
        }
    }

    /// Opens the conversation: `initialize` and `notifications/initialized` on 2025-11-25,
    /// `server/discover` on 2026-07-28. A refusal is returned for the caller.
    async fn open(&mut self, token: Option<&str>) -> Result<Option<Reply>, Stopped> {
        let body = self.conversation.speaker.opening();
        let answer = self.post(&body, token).await;
        if let Some(reply) = self.refusal(&body, &answer) {
            return Ok(Some(reply));
        }
        let name = self.conversation.speaker.opening_method();
        let ok = rpc_response(&answer).is_some_and(|r| r.get("result").is_some());
        if !ok {
            return self.stop(
                step_name(name),
                format!("{name} got no result: {}", status(&answer)),
                vec![answer.exchange],
            );
        }
        self.conversation.session = answer.session_id.clone().filter(|s| !s.is_empty());
        self.conversation.opened = true;
        if self.conversation.speaker.revision() == Revision::R2025_11_25 {
            let note = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            self.post(&note, token).await;
        }
        self.record(Step::ok(
            step_name(name),
            match self.conversation.speaker.revision() {
                Revision::R2025_11_25 => "the server answered initialize with its capabilities",
                Revision::R2026_07_28 => "the server answered server/discover with its versions",
            },
            vec![answer.exchange],
        ))?;
        Ok(None)
    }

    /// The opening request, without a token (outside the conversation).
    pub(super) async fn opening_without_token(&self) -> Answer {
        let body = self.conversation.speaker.opening();
        let headers = self.conversation.speaker.headers(&body);
        self.probe
            .post_mcp_with(&self.settings.server, &body, None, &headers)
            .await
    }

    async fn post(&self, body: &serde_json::Value, token: Option<&str>) -> Answer {
        let mut headers = self.conversation.speaker.headers(body);
        if let Some(session) = &self.conversation.session {
            headers.push(("Mcp-Session-Id", session.clone()));
        }
        self.probe
            .post_mcp_with(&self.settings.server, body, token, &headers)
            .await
    }

    /// Calls a tool for the page (signed in first: a 401 stops), listing the tools the first
    /// time.
    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: serde_json::Value,
    ) -> Result<ToolOutcome, Stopped> {
        if self.held.is_none() {
            return Err(Stopped("not signed in: log in first".into()));
        }
        if !self.conversation.opened {
            let listed = self.send("tools/list", serde_json::json!({})).await?;
            self.page_reply(listed)?;
        }
        let params = serde_json::json!({"name": name, "arguments": arguments});
        match self.send("tools/call", params).await? {
            Reply::InsufficientScope(scope) => Ok(ToolOutcome::NeedsScope(scope)),
            reply => self.page_reply(reply).map(ToolOutcome::Result),
        }
    }

    fn page_reply(&mut self, reply: Reply) -> Result<serde_json::Value, Stopped> {
        match reply {
            Reply::Result(v) => Ok(v),
            Reply::Unauthorized(answer) => self.stop(
                "401",
                "the server no longer takes the token: log in again",
                vec![answer.exchange],
            ),
            Reply::InsufficientScope(scope) => {
                Err(Stopped(format!("the server asks for the scope {scope}")))
            }
        }
    }
}

impl Session {
    /// A 401, or a 403 `insufficient_scope` (on the timeline), as what the caller does next.
    fn refusal(&mut self, body: &serde_json::Value, answer: &Answer) -> Option<Reply> {
        match answer.exchange.status {
            Some(401) => Some(Reply::Unauthorized(Box::new(answer.clone()))),
            Some(403) => {
                let challenge = answer
                    .exchange
                    .bearer_challenges()
                    .find(|c: &Challenge| c.param("error") == Some("insufficient_scope"))?;
                let scope = challenge.param("scope").unwrap_or_default().to_owned();
                let method = body["method"].as_str().unwrap_or_default();
                let what = body["params"]["name"].as_str().unwrap_or(method);
                self.timeline.push(Step::ok(
                    step_name(method),
                    format!("403 insufficient_scope for {what}: the server asks for {scope}"),
                    vec![answer.exchange.clone()],
                ));
                Some(Reply::InsufficientScope(scope))
            }
            _ => None,
        }
    }
}

/// The timeline's name for a request.
fn step_name(method: &str) -> &'static str {
    match method {
        "initialize" => "initialize",
        "server/discover" => "server/discover",
        "tools/list" => "tools/list",
        "tools/call" => "tools/call",
        _ => "request",
    }
}

/// A result in a line: the tools listed, or a tool's text.
fn summary(method: &str, body: &serde_json::Value, result: &serde_json::Value) -> String {
    match method {
        "tools/list" => {
            let names: Vec<&str> = result["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str())
                .collect();
            format!("tools: {}", names.join(", "))
        }
        "tools/call" => format!(
            "{}: {}",
            body["params"]["name"].as_str().unwrap_or_default(),
            one_line(result["content"][0]["text"].as_str().unwrap_or_default())
        ),
        _ => format!("{method}: a result"),
    }
}
