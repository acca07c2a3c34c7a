//! How the session gets a client id: as the settings say, or (automatic) in MCP's order.

use mcp_auth_conformance::client::{
    registration::{self, ClientMetadata},
    token::{self, ClientAuth},
};

use super::{Registration, Session, Step, Stopped, discovered::Discovered, status};
use crate::example_client::settings::cimd_url;

impl Session {
    /// Gets a client id at `d`'s authorization server, the way the settings say.
    pub(super) async fn register(&mut self, d: &Discovered) -> Result<ClientAuth, Stopped> {
        match self.settings.registration {
            Registration::Static => {
                let s = self
                    .settings
                    .static_client
                    .clone()
                    .expect("static settings");
                self.record(Step::ok(
                    "registration",
                    format!(
                        "pre-registered client {} (from {}), at its own AS {}",
                        s.client_id, self.settings.source, s.issuer
                    ),
                    Vec::new(),
                ))?;
                Ok(ClientAuth::Basic {
                    id: s.client_id,
                    secret: s.client_secret,
                })
            }
            Registration::Dcr => self.register_dynamically(d).await,
            Registration::Cimd => Ok(self.use_metadata_document()?),
            Registration::Auto => self.register_automatically(d).await,
        }
    }

    /// MCP's order (Client Registration): a pre-registered client, else CIMD when the AS
    /// says it supports it, else DCR when it offers it.
    async fn register_automatically(&mut self, d: &Discovered) -> Result<ClientAuth, Stopped> {
        if let Some(pre) = self.settings.pre_registered.clone() {
            let auth = match pre.client_secret {
                Some(secret) => ClientAuth::for_method(
                    pre.client_id.clone(),
                    Some(secret),
                    Some(token::secret_method(
                        d.metadata.get("token_endpoint_auth_methods_supported"),
                    )),
                ),
                None => ClientAuth::Public(pre.client_id.clone()),
            };
            self.record(Step::ok(
                "registration",
                format!(
                    "pre-registered client {} (from {}), authenticating with {}",
                    pre.client_id,
                    self.settings.source,
                    auth.method()
                ),
                Vec::new(),
            ))?;
            return Ok(auth);
        }
        if d.flag("client_id_metadata_document_supported") {
            return self.use_metadata_document();
        }
        if d.url("registration_endpoint").is_some() {
            return self.register_dynamically(d).await;
        }
        self.stop(
            "registration",
            "no way to a client id: no pre-registered client was given, and the AS offers neither CIMD nor DCR",
            Vec::new(),
        )
    }

    async fn register_dynamically(&mut self, d: &Discovered) -> Result<ClientAuth, Stopped> {
        let Some(endpoint) = d.url("registration_endpoint") else {
            return self.stop(
                "registration",
                "the AS advertises no registration_endpoint",
                Vec::new(),
            );
        };
        let method = registration::requested_auth_method(
            d.metadata.get("token_endpoint_auth_methods_supported"),
        );
        let metadata = ClientMetadata {
            client_name: "mcp-auth-kit example (DCR)".into(),
            redirect_uris: vec![self.settings.redirect_uri()],
            token_endpoint_auth_method: method.into(),
            scope: None,
        };
        let (answer, registered) = registration::register(&self.probe, &endpoint, &metadata).await;
        match registered {
            Some(r) => {
                let summary = format!(
                    "registered as {} (kept for this session){}",
                    r.auth.client_id(),
                    match r.auth.method() {
                        "none" => String::new(),
                        m => format!(", authenticating with {m}"),
                    }
                );
                self.record(Step::ok("registration", summary, vec![answer.exchange]))?;
                Ok(r.auth)
            }
            None => self.stop(
                "registration",
                format!("the registration was refused: {}", status(&answer)),
                vec![answer.exchange],
            ),
        }
    }

    fn use_metadata_document(&mut self) -> Result<ClientAuth, Stopped> {
        let client_id = cimd_url(&self.settings);
        self.record(Step::ok(
            "registration",
            format!(
                "none: the client_id is the URL of this client's metadata document, {client_id}"
            ),
            Vec::new(),
        ))?;
        Ok(ClientAuth::Public(client_id.to_string()))
    }
}
