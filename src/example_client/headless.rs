//! The flow without a page (`--no-browser`, `--conformance`): a browser stand-in answers the
//! sign-in pages, and each 401 and 403 `insufficient_scope` is acted on as the spec asks:
//! discovered again from the challenge, signed in again (for the union of the scopes asked for),
//! the request retried, a few times at most. Every step is printed as it lands.

use anyhow::bail;
use mcp_auth_conformance::client::browser::{Browser, Credentials, Landing};
use url::Url;

use super::{
    session::{Reply, Session},
    settings::ClientSettings,
};

/// Sign-ins one request may take before its refusal is treated as permanent (MCP, Step-Up
/// Authorization Flow: "no more than a few times").
pub const MAX_SIGN_INS: usize = 3;

/// A session driven from the terminal.
pub struct Driver {
    /// The session.
    pub session: Session,
    browser: Browser,
    redirect: Url,
    printed: usize,
}

impl Driver {
    /// A driver for `settings`, signing in as `credentials` where a form asks for a user.
    pub fn new(settings: ClientSettings, credentials: Option<Credentials>) -> Self {
        let browser = Browser::new(&settings.server, credentials);
        let redirect = settings.redirect_uri();
        Self {
            session: Session::new(settings),
            browser,
            redirect,
            printed: 0,
        }
    }

    /// Prints the steps not printed yet.
    pub fn flush(&mut self) {
        for step in &self.session.timeline[self.printed..] {
            println!("{}", step.to_text());
        }
        self.printed = self.session.timeline.len();
    }

    /// Sends an MCP request until it is answered, signing in as the server asks.
    pub async fn request(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let mut sign_ins = 0;
        let mut refreshed = false;
        loop {
            let reply = self.session.send(method, params.clone()).await;
            self.flush();
            let scope = match reply? {
                Reply::Result(result) => return Ok(result),
                Reply::Unauthorized(answer) => {
                    let discovered = self.session.discover_from(*answer).await;
                    self.flush();
                    discovered?;
                    // Still signed in (the same authorization server): the token may just have
                    // run out; a refresh is cheaper than a sign-in.
                    if self.session.signed_in() && !refreshed {
                        refreshed = true;
                        let why = "the server refused the access token";
                        let renewed = self.session.refresh(why).await;
                        self.flush();
                        if renewed?.is_some() {
                            continue;
                        }
                    }
                    None
                }
                Reply::InsufficientScope(scope) => {
                    if !self.session.would_widen(&scope) {
                        bail!(
                            "the server asks for {scope:?}, which this client already asked for: signing in again cannot help (a permanent authorization failure)"
                        );
                    }
                    Some(scope)
                }
            };
            sign_ins += 1;
            if sign_ins > MAX_SIGN_INS {
                bail!(
                    "signed in {MAX_SIGN_INS} times for {method} and the server still refuses: giving up"
                );
            }
            self.sign_in(scope.as_deref()).await?;
        }
    }

    /// Calls a tool.
    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let params = serde_json::json!({"name": name, "arguments": arguments});
        self.request("tools/call", params).await
    }

    /// One sign-in: the client credentials grant for a machine client, else the authorization
    /// code flow through the browser stand-in.
    async fn sign_in(&mut self, scope: Option<&str>) -> anyhow::Result<()> {
        let machine = self.session.client_credentials(scope).await;
        self.flush();
        if machine? {
            return Ok(());
        }
        let url = self.session.begin_login(scope).await;
        self.flush();
        let url = url?;
        let navigation = self.browser.authorize(&url, &self.redirect).await;
        match &navigation.landing {
            Landing::Callback(response) => {
                let completed = self.session.complete(response).await;
                self.flush();
                Ok(completed?)
            }
            Landing::NeedsCredentials => bail!(
                "the sign-in asks for a user: give --username and --password (`cargo xtask serve` prints the development user)"
            ),
            _ => bail!("the sign-in did not come back: {}", navigation.describe()),
        }
    }
}

/// A tool result's text, or the result as JSON.
pub fn text(result: &serde_json::Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .map_or_else(|| result.to_string(), str::to_owned)
}
