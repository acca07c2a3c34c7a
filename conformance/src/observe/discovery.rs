//! Phase two: Protected Resource Metadata, then the authorization server's metadata, each found
//! the way the spec tells a client to look; both fetched again from a web page's origin.

use url::Url;

use super::challenge::Challenged;
use crate::probe::{Exchange, Probe};

/// The origin the tester fetches metadata from, as a browser-based client would.
pub const WEB_ORIGIN: &str = "https://mcp-client.example";

/// How the Protected Resource Metadata was located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The challenge's `resource_metadata`.
    Challenge,
    /// The well-known URI with the MCP endpoint's path inserted.
    PathInserted,
    /// The well-known URI at the root.
    Root,
}

impl Via {
    /// For messages.
    pub fn describe(self) -> &'static str {
        match self {
            Via::Challenge => "the challenge's resource_metadata",
            Via::PathInserted => "the path-inserted well-known URI",
            Via::Root => "the root well-known URI",
        }
    }
}

/// A document that answered 200.
#[derive(Debug, Clone)]
pub struct Found {
    /// Index of its exchange in the attempts.
    pub exchange: usize,
    /// The URL it was fetched from.
    pub url: Url,
    /// Its body as a JSON object, if it is one.
    pub json: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The metadata documents and every request made to find them.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Requests for Protected Resource Metadata, in order.
    pub prm_attempts: Vec<Exchange>,
    /// The PRM document and how it was found.
    pub prm: Option<(Found, Via)>,
    /// The issuer the PRM names first.
    pub issuer: Option<String>,
    /// Requests for authorization server metadata, in order.
    pub as_attempts: Vec<Exchange>,
    /// The authorization server's metadata.
    pub as_metadata: Option<Found>,
    /// The PRM and AS metadata fetched again from a web page's origin ([`WEB_ORIGIN`]).
    pub cross_origin: Vec<Exchange>,
}

impl Discovery {
    /// Finds both documents, as a client does after the challenge.
    pub async fn observe(probe: &Probe, target: &Url, challenged: &Challenged) -> Self {
        let mut found = Self::default();
        // Clients use the challenge's URL when there is one, and the well-known URIs otherwise.
        let candidates: Vec<(Url, Via)> = match challenged.advertised_metadata() {
            Some(url) => vec![(url, Via::Challenge)],
            None => prm_well_known(target),
        };
        for (url, via) in candidates {
            if let Some(doc) = fetch(probe, url, &mut found.prm_attempts, false).await {
                found.prm = Some((doc, via));
                break;
            }
        }
        found.issuer = found
            .prm_json()
            .and_then(|j| j.get("authorization_servers"))
            .and_then(|a| a.as_array())
            .and_then(|a| a.first())
            .and_then(|i| i.as_str())
            .map(str::to_owned);
        if let Some(issuer) = found.issuer.clone() {
            for url in as_well_known(&issuer) {
                if let Some(doc) = fetch(probe, url, &mut found.as_attempts, true).await {
                    found.as_metadata = Some(doc);
                    break;
                }
            }
        }
        let documents: Vec<Url> = found
            .prm
            .iter()
            .map(|(f, _)| f.url.clone())
            .chain(found.as_metadata.iter().map(|f| f.url.clone()))
            .collect();
        for url in documents {
            found
                .cross_origin
                .push(probe.get_from(&url, WEB_ORIGIN).await.exchange);
        }
        found
    }

    /// The PRM document as JSON, when it was found and is an object.
    pub fn prm_json(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.prm.as_ref().and_then(|(f, _)| f.json.as_ref())
    }

    /// The exchange that fetched the PRM document.
    pub fn prm_exchange(&self) -> Option<&Exchange> {
        self.prm
            .as_ref()
            .map(|(f, _)| &self.prm_attempts[f.exchange])
    }

    /// The exchange that fetched the AS metadata.
    pub fn as_exchange(&self) -> Option<&Exchange> {
        self.as_metadata
            .as_ref()
            .map(|f| &self.as_attempts[f.exchange])
    }

    /// A field of the authorization server's metadata, when it was found and has the field.
    pub fn as_field(&self, name: &str) -> Option<&serde_json::Value> {
        self.as_metadata.as_ref()?.json.as_ref()?.get(name)
    }

    /// A URL field of the authorization server's metadata, when present and a URL.
    pub fn as_url(&self, name: &str) -> Option<Url> {
        self.as_field(name)
            .and_then(|v| v.as_str())
            .and_then(|s| Url::parse(s).ok())
    }

    /// Whether a flag of the authorization server's metadata is `true`.
    pub fn as_flag(&self, name: &str) -> bool {
        self.as_field(name).and_then(|v| v.as_bool()) == Some(true)
    }
}

/// `GET url`, recorded in `attempts`; the document when it answered 200 (and, when
/// `json_only`, only if it is a JSON object).
async fn fetch(
    probe: &Probe,
    url: Url,
    attempts: &mut Vec<Exchange>,
    json_only: bool,
) -> Option<Found> {
    let answer = probe.get(&url).await;
    attempts.push(answer.exchange.clone());
    if answer.exchange.status != Some(200) {
        return None;
    }
    let json = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.as_object().cloned());
    if json_only && json.is_none() {
        return None;
    }
    Some(Found {
        exchange: attempts.len() - 1,
        url,
        json,
    })
}

/// RFC 9728 section 3.1 and the MCP order: path-inserted (when there is a path), then root.
pub fn prm_well_known(target: &Url) -> Vec<(Url, Via)> {
    let path = target.path().trim_end_matches('/');
    let at = |p: &str| {
        let mut u = target.clone();
        u.set_path(p);
        u.set_query(None);
        u.set_fragment(None);
        u
    };
    let mut out = Vec::new();
    if !path.is_empty() {
        out.push((
            at(&format!("/.well-known/oauth-protected-resource{path}")),
            Via::PathInserted,
        ));
    }
    out.push((at("/.well-known/oauth-protected-resource"), Via::Root));
    out
}

/// The MCP order of authorization server metadata locations for an issuer.
pub fn as_well_known(issuer: &str) -> Vec<Url> {
    let Ok(url) = Url::parse(issuer) else {
        return Vec::new();
    };
    let path = url.path().trim_end_matches('/').to_owned();
    let at = |p: String| {
        let mut u = url.clone();
        u.set_path(&p);
        u.set_query(None);
        u
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_orders() {
        let t = Url::parse("https://example.com/public/mcp").unwrap();
        let prm: Vec<String> = prm_well_known(&t)
            .into_iter()
            .map(|(u, _)| u.to_string())
            .collect();
        assert_eq!(
            prm,
            [
                "https://example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://example.com/.well-known/oauth-protected-resource"
            ]
        );
        let root: Vec<String> = prm_well_known(&Url::parse("https://example.com").unwrap())
            .into_iter()
            .map(|(u, _)| u.to_string())
            .collect();
        assert_eq!(
            root,
            ["https://example.com/.well-known/oauth-protected-resource"]
        );
        let with_path: Vec<String> = as_well_known("https://auth.example.com/tenant1")
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            with_path,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
    }
}
