//! Discovery as the session does it: from a challenge, the Protected Resource Metadata and the
//! authorization server's metadata, each validated before it is used.

use mcp_auth_conformance::{
    client::scope::{self, Scopes},
    observe::discovery,
    probe::Answer,
};
use url::Url;

use super::{Session, Step, Stopped, discovered::Discovered, status};

impl Session {
    /// The page's way in: the opening request without a token, which must be refused with a
    /// challenge to discover from.
    pub(super) async fn discover(&mut self) -> Result<(), Stopped> {
        let answer = self.opening_without_token().await;
        if answer.exchange.status != Some(401) {
            return self.stop(
                "401",
                format!(
                    "expected 401 with a Bearer challenge, got {}",
                    status(&answer)
                ),
                vec![answer.exchange],
            );
        }
        self.discover_from(answer).await
    }

    /// Discovers from a 401: the challenge, the Protected Resource Metadata (its `resource`
    /// checked against the server's URL), the authorization server's metadata (its `issuer`
    /// checked against the PRM's). Run again on every 401, since the PRM may name another
    /// authorization server now: then the registration and the tokens of the old one are
    /// dropped (a client MUST NOT assume credentials of one AS work at another, SEP-2352).
    pub async fn discover_from(&mut self, answer: Answer) -> Result<(), Stopped> {
        let target = self.settings.server.clone();
        let challenge = answer.exchange.bearer_challenges().next();
        let Some(challenge) = challenge else {
            return self.stop(
                "401",
                format!(
                    "{} without a Bearer challenge: nothing to discover from",
                    status(&answer)
                ),
                vec![answer.exchange],
            );
        };
        let advertised = challenge
            .param("resource_metadata")
            .and_then(|u| Url::parse(u).ok());
        self.record(Step::ok(
            "401",
            format!(
                "the server wants a token; {}scope {} from WWW-Authenticate",
                if advertised.is_some() {
                    "resource_metadata and "
                } else {
                    ""
                },
                challenge.param("scope").unwrap_or("(none)")
            ),
            vec![answer.exchange],
        ))?;
        let (resource, prm) = self.protected_resource(&target, advertised).await?;
        let issuer = discovery::first_issuer(&prm);
        let Some(issuer) = issuer else {
            return self.stop(
                "PRM",
                "no authorization_servers in the Protected Resource Metadata",
                Vec::new(),
            );
        };
        let initial_scope = scope::initial(challenge.param("scope"), Some(&prm));
        let d = self
            .authorization_server(resource, issuer, initial_scope)
            .await?;
        self.forget_another_as(&d);
        self.discovered = Some(d);
        Ok(())
    }

    /// The PRM, found as the spec says, and its `resource` (RFC 9728 §3.3: it must name what
    /// the client asked for, or the metadata MUST NOT be used).
    async fn protected_resource(
        &mut self,
        target: &Url,
        advertised: Option<Url>,
    ) -> Result<(String, serde_json::Map<String, serde_json::Value>), Stopped> {
        let (attempts, found) = discovery::find_prm(&self.probe, target, advertised).await;
        let Some((found, via)) = found else {
            return self.stop(
                "PRM",
                "no Protected Resource Metadata at the challenge's URL or the well-known URIs",
                attempts,
            );
        };
        let evidence = vec![attempts[found.exchange].clone()];
        let Some(prm) = found.json else {
            return self.stop(
                "PRM",
                "the Protected Resource Metadata is not a JSON object",
                evidence,
            );
        };
        let expected = discovery::expected_resource(target, via);
        let resource = prm.get("resource").and_then(|r| r.as_str());
        let usable = |r: &&str| discovery::resource_usable(r, target, via);
        let Some(resource) = resource.filter(usable) else {
            return self.stop(
                "PRM",
                format!(
                    "resource {:?} is not {expected}, which {} must name (RFC 9728 §3.3): the metadata is not used",
                    resource.unwrap_or("(none)"),
                    via.describe()
                ),
                evidence,
            );
        };
        let resource = resource.to_owned();
        self.record(Step::ok(
            "PRM",
            format!(
                "resource {resource} (found through {}), authorization server {}",
                via.describe(),
                discovery::first_issuer(&prm).unwrap_or_default()
            ),
            evidence,
        ))?;
        // Found at the root, the canonical URI is the origin: tokens are asked for it.
        Ok((resource, prm))
    }

    /// The authorization server's metadata, validated: the issuer the PRM named (RFC 8414
    /// §3.3), S256 (a client MUST refuse to go on without it), both endpoints.
    async fn authorization_server(
        &mut self,
        resource: String,
        issuer: String,
        initial_scope: Scopes,
    ) -> Result<Discovered, Stopped> {
        let (tried, found) = discovery::find_as_metadata(&self.probe, &issuer).await;
        let Some(metadata) = found.and_then(|f| f.json) else {
            return self.stop(
                "AS metadata",
                "no authorization server metadata at any well-known location",
                tried,
            );
        };
        let s256 = metadata
            .get("code_challenge_methods_supported")
            .and_then(|m| m.as_array())
            .is_some_and(|a| a.iter().any(|x| x == "S256"));
        let mut d = Discovered {
            resource,
            issuer,
            metadata,
            authorization_endpoint: Url::parse("http://unset.invalid").expect("a static URL"),
            token_endpoint: Url::parse("http://unset.invalid").expect("a static URL"),
            initial_scope,
        };
        let endpoints = d.url("authorization_endpoint").zip(d.url("token_endpoint"));
        let problem = if !discovery::issuer_is(&d.metadata, &d.issuer) {
            Some(format!(
                "the metadata's issuer is {}, not {} the PRM names: it MUST NOT be used (RFC 8414 §3.3)",
                d.metadata.get("issuer").unwrap_or(&serde_json::Value::Null),
                d.issuer
            ))
        } else if !s256 {
            Some(
                "no S256 in code_challenge_methods_supported: a client must refuse to go on".into(),
            )
        } else if endpoints.is_none() {
            Some("no authorization_endpoint or token_endpoint".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            return self.stop("AS metadata", problem, tried);
        }
        (d.authorization_endpoint, d.token_endpoint) = endpoints.expect("checked");
        let summary = format!(
            "issuer {} (recorded for the iss check), S256, {}",
            d.issuer,
            match (
                d.url("registration_endpoint").is_some(),
                d.flag("client_id_metadata_document_supported")
            ) {
                (true, true) => "DCR and CIMD offered",
                (true, false) => "DCR offered",
                (false, true) => "CIMD offered",
                (false, false) => "no registration offered",
            }
        );
        self.record(Step::ok("AS metadata", summary, tried))?;
        Ok(d)
    }

    /// When `d` names another authorization server than the one signed in at: its
    /// registration and tokens are of no use at the new one.
    fn forget_another_as(&mut self, d: &Discovered) {
        let before = self.discovered.as_ref().map(|old| old.issuer.clone());
        if before.is_some_and(|old| old != d.issuer) {
            self.client = None;
            self.held = None;
            self.pending = None;
            self.conversation.reset();
            self.timeline.push(Step::ok(
                "AS changed",
                format!(
                    "the PRM now names {}: the registration and tokens of the previous authorization server are dropped",
                    d.issuer
                ),
                Vec::new(),
            ));
        }
    }
}
