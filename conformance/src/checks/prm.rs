//! Protected Resource Metadata (RFC 9728): found, well-formed, and naming this server and its
//! authorization servers.

use url::Url;

use super::{Finding, fail, is_json, pass, skip, warn};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    observe::{
        Observations,
        discovery::{Via, expected_resource, same_resource},
    },
    probe::Exchange,
    revision::{BOTH, Revision},
};

/// `prm.discoverable`.
pub const DISCOVERABLE: Check = Check {
    id: CheckId::PrmDiscoverable,
    title: "Protected Resource Metadata is found from the challenge or at a well-known URI",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#protected-resource-metadata-discovery-requirements",
        section: "MCP Authorization, Protected Resource Metadata Discovery Requirements",
    },
    revisions: BOTH,
    depends_on: &[],
    note: None,
    judge: discoverable,
};

/// `prm.json-object`.
pub const JSON_OBJECT: Check = Check {
    id: CheckId::PrmJsonObject,
    title: "The metadata is a JSON object served as application/json",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc9728#section-3.2",
        section: "RFC 9728 §3.2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::PrmDiscoverable],
    note: None,
    judge: json_object,
};

/// `prm.resource-matches`.
pub const RESOURCE_MATCHES: Check = Check {
    id: CheckId::PrmResourceMatches,
    title: "The metadata's resource is the MCP server's canonical URI",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc9728#section-3.3",
        section: "RFC 9728 §3.3; MCP Authorization, Canonical Server URI",
    },
    revisions: BOTH,
    depends_on: &[CheckId::PrmJsonObject],
    note: Some(
        "RFC 9728 §3.3: metadata found through the challenge or the path-inserted URI names the MCP endpoint itself; at the root well-known URI, the origin it was built from (the endpoint itself there is a warning). Compared as the spec allows: scheme and host case-insensitively, nothing else normalised.",
    ),
    judge: resource_matches,
};

/// `prm.authorization-servers`.
pub const AUTHORIZATION_SERVERS: Check = Check {
    id: CheckId::PrmAuthorizationServers,
    title: "The metadata names at least one authorization server",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-server-location",
        section: "MCP Authorization, Authorization Server Location",
    },
    revisions: BOTH,
    depends_on: &[CheckId::PrmJsonObject],
    note: None,
    judge: authorization_servers,
};

/// `prm.bearer-methods`.
pub const BEARER_METHODS: Check = Check {
    id: CheckId::PrmBearerMethods,
    title: "If bearer_methods_supported is given, it includes header",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-requirements",
        section: "MCP Authorization, Token Requirements; RFC 9728 §2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::PrmJsonObject],
    note: Some(
        "RFC 9728 makes the field optional; MCP clients MUST send tokens in the Authorization header, so a document without header contradicts the spec.",
    ),
    judge: bearer_methods,
};

/// `prm.no-offline-access`.
pub const NO_OFFLINE_ACCESS: Check = Check {
    id: CheckId::PrmNoOfflineAccess,
    title: "Neither the metadata's scopes_supported nor a challenge's scope asks for offline_access",
    level: Level::Should,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization#refresh-tokens",
        section: "MCP Authorization (2026-07-28), Refresh Tokens (\"SHOULD NOT include offline_access\")",
    },
    revisions: &[Revision::R2026_07_28],
    depends_on: &[CheckId::PrmJsonObject],
    note: Some(
        "Refresh tokens are not a resource requirement: whether to ask for one is the client's call, from the AS metadata. Looked at: the PRM's scopes_supported, the 401's scope, and the step-up 403's scope when there was one.",
    ),
    judge: no_offline_access,
};

fn evidence(o: &Observations) -> Vec<Exchange> {
    o.discovery.prm_exchange().cloned().into_iter().collect()
}

fn json(o: &Observations) -> Option<&serde_json::Map<String, serde_json::Value>> {
    o.discovery.prm_json()
}

fn discoverable(o: &Observations) -> Finding {
    let d = &o.discovery;
    if let Some((_, via)) = &d.prm {
        return pass(format!("found through {}", via.describe()), evidence(o));
    }
    let tried: Vec<String> = d
        .prm_attempts
        .iter()
        .map(|e| {
            format!(
                "{} ({})",
                e.url,
                e.status
                    .map(|s| s.to_string())
                    .or(e.error.clone())
                    .unwrap_or_default()
            )
        })
        .collect();
    let how = if o.challenge.advertised_metadata().is_some() {
        "the challenge's resource_metadata, which clients must use when present, did not answer 200"
    } else {
        "neither well-known URI answered 200"
    };
    fail(
        format!("{how}: tried {}", tried.join(", ")),
        d.prm_attempts.clone(),
    )
}

fn json_object(o: &Observations) -> Finding {
    let Some(exchange) = o.discovery.prm_exchange() else {
        return skip("no metadata was found (see prm.discoverable)");
    };
    match (json(o), is_json(exchange.content_type.as_deref())) {
        (Some(_), true) => pass("a JSON object, application/json", evidence(o)),
        (Some(_), false) => fail(
            format!(
                "a JSON object, but served as {:?}",
                exchange
                    .content_type
                    .as_deref()
                    .unwrap_or("no content type")
            ),
            evidence(o),
        ),
        (None, _) => fail("the body is not a JSON object", evidence(o)),
    }
}

fn resource_matches(o: &Observations) -> Finding {
    let Some((_, via)) = &o.discovery.prm else {
        return skip("no metadata was found (see prm.discoverable)");
    };
    let expected = expected_resource(&o.target, *via);
    let resource = json(o)
        .and_then(|j| j.get("resource"))
        .and_then(|r| r.as_str());
    match (resource, via) {
        (None, _) => fail("no resource member", evidence(o)),
        (Some(r), Via::Root) if same_resource(r, &expected) => pass(
            "resource is the origin whose root well-known URI served it",
            evidence(o),
        ),
        (Some(r), Via::Root) if same_resource(r, &o.target) => warn(
            "resource is the MCP endpoint, found at the root well-known URI: RFC 9728 §3.3 asks for the origin that URI was built from, so clients that follow it to the letter refuse this metadata (clients that match by prefix, like the SDKs, take it)",
            evidence(o),
        ),
        (Some(r), Via::Root) => fail(
            format!(
                "resource is {r:?}, neither the origin whose root well-known URI served it (RFC 9728 §3.3) nor the MCP server's URI"
            ),
            evidence(o),
        ),
        (Some(r), _) if same_resource(r, &expected) => {
            pass("resource is the MCP server's URI", evidence(o))
        }
        (Some(r), _) => fail(
            format!("resource is {r:?}, not the MCP server's URI (the target)"),
            evidence(o),
        ),
    }
}

fn authorization_servers(o: &Observations) -> Finding {
    let servers = json(o)
        .and_then(|j| j.get("authorization_servers"))
        .and_then(|a| a.as_array());
    match servers {
        Some(a)
            if !a.is_empty()
                && a.iter()
                    .all(|s| s.as_str().and_then(|s| Url::parse(s).ok()).is_some()) =>
        {
            pass(format!("{} authorization server(s)", a.len()), evidence(o))
        }
        Some(a) if !a.is_empty() => fail(
            "authorization_servers holds something that is not an issuer URL",
            evidence(o),
        ),
        _ => fail("authorization_servers is missing or empty", evidence(o)),
    }
}

fn bearer_methods(o: &Observations) -> Finding {
    match json(o).and_then(|j| j.get("bearer_methods_supported")) {
        None => pass("not given", evidence(o)),
        Some(v)
            if v.as_array()
                .is_some_and(|a| a.iter().any(|m| m == "header")) =>
        {
            pass("includes header", evidence(o))
        }
        Some(v) => fail(
            format!("bearer_methods_supported is {v}, without header"),
            evidence(o),
        ),
    }
}

fn no_offline_access(o: &Observations) -> Finding {
    let offline = |scopes: &str| scopes.split(' ').any(|s| s == "offline_access");
    let mut asked = Vec::new();
    let listed = json(o)
        .and_then(|j| j.get("scopes_supported"))
        .and_then(|s| s.as_array())
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some("offline_access")));
    if listed {
        asked.push("the metadata's scopes_supported");
    }
    if o.bearer()
        .and_then(|c| c.param("scope"))
        .is_some_and(offline)
    {
        asked.push("the 401's challenge");
    }
    let step_up = o.tokens.step_up.as_ref();
    let stepped_scope = step_up
        .and_then(|e| e.bearer_challenges().next())
        .and_then(|c| c.param("scope").map(str::to_owned));
    if stepped_scope.as_deref().is_some_and(offline) {
        asked.push("the step-up challenge");
    }
    let mut shown = evidence(o);
    shown.push(o.challenge.unauthenticated.clone());
    shown.extend(step_up.cloned());
    if asked.is_empty() {
        pass("no offline_access asked for", shown)
    } else {
        fail(format!("offline_access is in {}", asked.join(", ")), shown)
    }
}
