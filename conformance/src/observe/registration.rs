//! Phase three: Dynamic Client Registration, when the authorization server advertises it: the
//! tester's own client, and two registrations that must be refused.

use url::Url;

use super::flow::FlowClient;
use crate::{
    client::registration::{self, ClientMetadata},
    probe::{Exchange, Probe},
};

/// A registration request's answer, and its body as JSON when it is JSON.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The exchange.
    pub exchange: Exchange,
    /// The body.
    pub body: Option<serde_json::Value>,
}

impl Registration {
    /// A string member of the answer.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.body.as_ref()?.get(name)?.as_str()
    }
}

/// The registrations made (all `None` without a `registration_endpoint`).
#[derive(Debug, Clone, Default)]
pub struct Registrations {
    /// The tester's public loopback client.
    pub valid: Option<Registration>,
    /// A client with an `http` redirect URI on a public host.
    pub insecure: Option<Registration>,
    /// A client whose redirect URI is not a URI at all.
    pub malformed: Option<Registration>,
    /// Clients whose redirect URI runs in the browser ([`SCRIPT_REDIRECTS`]), one each.
    pub script: Vec<(&'static str, Registration)>,
    /// The client the flows sign in as, when the valid registration gave one.
    pub client: Option<FlowClient>,
    /// A second client registered the same way, to present another client's code.
    pub second: Option<FlowClient>,
}

/// The redirect URI of the insecure registration: plain http on a public host.
pub const INSECURE_REDIRECT: &str = "http://client.example.com/callback";
/// The redirect URI of the malformed registration.
pub const MALFORMED_REDIRECT: &str = "not a uri";
/// Redirect URIs a browser would run or render instead of handing the code to a client.
pub const SCRIPT_REDIRECTS: [&str; 2] = [
    "javascript:alert(document.domain)//",
    "data:text/html,<script>alert(document.domain)</script>",
];

impl Registrations {
    /// Registers at `endpoint`, if there is one, a client whose redirect URI is `callback`.
    pub async fn observe(probe: &Probe, endpoint: Option<Url>, callback: &Url) -> Self {
        let Some(endpoint) = endpoint else {
            return Self::default();
        };
        let metadata = |redirect_uris: Vec<Url>| ClientMetadata {
            client_name: "mcp-auth-conformance".into(),
            redirect_uris,
            token_endpoint_auth_method: "none".into(),
            scope: None,
        };
        let (answer, registered) =
            registration::register(probe, &endpoint, &metadata(vec![callback.clone()])).await;
        let valid = Registration {
            body: serde_json::from_slice(&answer.body).ok(),
            exchange: answer.exchange,
        };
        let client = registered.map(|r| FlowClient {
            auth: r.auth,
            redirect_uri: callback.clone(),
            origin: "a client registered by DCR",
        });
        // Only when the first one was: a second registration proves nothing on its own.
        let second = match &client {
            Some(_) => registration::register(probe, &endpoint, &metadata(vec![callback.clone()]))
                .await
                .1
                .map(|r| FlowClient {
                    auth: r.auth,
                    redirect_uri: callback.clone(),
                    origin: "a second client registered by DCR",
                }),
            None => None,
        };
        let refused = |body: serde_json::Value| {
            let endpoint = endpoint.clone();
            async move {
                let answer = probe.post_json(&endpoint, &body).await;
                Registration {
                    body: serde_json::from_slice(&answer.body).ok(),
                    exchange: answer.exchange,
                }
            }
        };
        let insecure = Url::parse(INSECURE_REDIRECT).expect("a static URL");
        let mut malformed = metadata(Vec::new()).to_json();
        malformed["redirect_uris"] = serde_json::json!([MALFORMED_REDIRECT]);
        let mut script = Vec::new();
        for redirect in SCRIPT_REDIRECTS {
            let mut body = metadata(Vec::new()).to_json();
            body["redirect_uris"] = serde_json::json!([redirect]);
            script.push((redirect, refused(body).await));
        }
        Self {
            valid: Some(valid),
            insecure: Some(refused(metadata(vec![insecure]).to_json()).await),
            malformed: Some(refused(malformed).await),
            script,
            client,
            second,
        }
    }
}
