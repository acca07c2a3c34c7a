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
        (found.prm_attempts, found.prm) =
            find_prm(probe, target, challenged.advertised_metadata()).await;
        found.issuer = found.prm_json().and_then(first_issuer);
        if let Some(issuer) = found.issuer.clone() {
            (found.as_attempts, found.as_metadata) = find_as_metadata(probe, &issuer).await;
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

/// The Protected Resource Metadata as a client looks for it (MCP, Protected Resource Metadata
/// Discovery Requirements): at the challenge's `resource_metadata` when there is one, else at
/// the well-known URIs in order; every request made, and the first document that answered 200
/// with how it was found.
pub async fn find_prm(
    probe: &Probe,
    target: &Url,
    advertised: Option<Url>,
) -> (Vec<Exchange>, Option<(Found, Via)>) {
    let candidates: Vec<(Url, Via)> = match advertised {
        Some(url) => vec![(url, Via::Challenge)],
        None => prm_well_known(target),
    };
    let mut attempts = Vec::new();
    for (url, via) in candidates {
        if let Some(doc) = fetch(probe, url, &mut attempts, false).await {
            return (attempts, Some((doc, via)));
        }
    }
    (attempts, None)
}

/// The authorization server's metadata for `issuer` (RFC 8414 and OIDC discovery, in the MCP
/// order): every request made, and the first JSON object that answered 200. Whether its
/// `issuer` is the one asked for is for the caller to judge ([`issuer_is`]).
pub async fn find_as_metadata(probe: &Probe, issuer: &str) -> (Vec<Exchange>, Option<Found>) {
    let mut attempts = Vec::new();
    for url in as_well_known(issuer) {
        if let Some(doc) = fetch(probe, url, &mut attempts, true).await {
            return (attempts, Some(doc));
        }
    }
    (attempts, None)
}

/// The first authorization server a PRM document names.
pub fn first_issuer(prm: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    prm.get("authorization_servers")?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_owned)
}

/// Whether authorization server metadata names `issuer` as its issuer: RFC 8414 §3.3 (and
/// OpenID Connect Discovery §4.3) ask for the identifier the well-known URL was built from,
/// identical, and a client MUST NOT use metadata that names another.
pub fn issuer_is(metadata: &serde_json::Map<String, serde_json::Value>, issuer: &str) -> bool {
    metadata.get("issuer").and_then(|i| i.as_str()) == Some(issuer)
}

/// The resource a PRM document found `via` must name for the MCP endpoint `target` (RFC 9728
/// §3.3): the URL the client requested when the challenge pointed at it, the resource
/// identifier the well-known suffix was inserted into otherwise: `target` itself for the
/// path-inserted URI, its origin for the root one.
pub fn expected_resource(target: &Url, via: Via) -> Url {
    match via {
        Via::Challenge | Via::PathInserted => target.clone(),
        Via::Root => {
            let mut origin = target.clone();
            origin.set_path("/");
            origin.set_query(None);
            origin.set_fragment(None);
            origin
        }
    }
}

/// Whether a client may use PRM found `via` for `target` whose `resource` is `resource`: it
/// names what RFC 9728 §3.3 asks ([`expected_resource`]), or, found at the root, the endpoint
/// itself (what clients matching by prefix, like the SDKs, accept; `prm.resource-matches`
/// warns of it).
pub fn resource_usable(resource: &str, target: &Url, via: Via) -> bool {
    same_resource(resource, &expected_resource(target, via))
        || (via == Via::Root && same_resource(resource, target))
}

/// Whether `resource` names `expected`: scheme and host compared case-insensitively (MCP,
/// Canonical Server URI: implementations SHOULD accept uppercase), a default port as its
/// absence, nothing else normalised; a fragment never matches.
pub fn same_resource(resource: &str, expected: &Url) -> bool {
    let Ok(r) = Url::parse(resource) else {
        return false;
    };
    // `Url` lower-cases scheme and host and turns an empty http(s) path into "/".
    let key = |u: &Url| {
        (
            u.scheme().to_owned(),
            u.host_str().map(str::to_owned),
            u.port_or_known_default(),
            u.path().to_owned(),
            u.query().map(str::to_owned),
        )
    };
    r.fragment().is_none() && key(&r) == key(expected)
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

    #[test]
    fn resources_compare_as_the_spec_allows() {
        let t = Url::parse("https://mcp.example.com/mcp").unwrap();
        assert!(same_resource("https://mcp.example.com/mcp", &t));
        assert!(same_resource("HTTPS://MCP.EXAMPLE.COM/mcp", &t));
        assert!(same_resource("https://mcp.example.com:443/mcp", &t));
        assert!(!same_resource("https://mcp.example.com/mcp/", &t));
        assert!(!same_resource("https://mcp.example.com/MCP", &t));
        assert!(!same_resource("https://other.example.com/mcp", &t));
        assert!(!same_resource("https://mcp.example.com/mcp#x", &t));
        let root = Url::parse("https://mcp.example.com").unwrap();
        assert!(same_resource("https://mcp.example.com/", &root));
        assert!(same_resource("https://mcp.example.com", &root));
    }

    #[test]
    fn the_expected_resource_follows_where_the_metadata_was_found() {
        let t = Url::parse("http://localhost:4000/mcp?tenant=a").unwrap();
        for via in [Via::Challenge, Via::PathInserted] {
            assert_eq!(expected_resource(&t, via), t);
        }
        let root = expected_resource(&t, Via::Root);
        assert!(same_resource("http://localhost:4000", &root));
        assert!(!same_resource("http://localhost:4000/mcp", &root));
        assert!(!same_resource(
            "https://evil.example.com/mcp",
            &expected_resource(&t, Via::Challenge)
        ));
    }
}
