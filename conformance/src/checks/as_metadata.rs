//! The authorization server's metadata (RFC 8414, or OpenID Connect discovery): found, naming
//! the right issuer and usable endpoints, over HTTPS, with what MCP clients need.

use super::{Finding, fail, insecure, pass};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    observe::Observations,
    probe::Exchange,
    revision::{BOTH, Revision},
};

/// `as.metadata-discoverable`.
pub const METADATA_DISCOVERABLE: Check = Check {
    id: CheckId::AsMetadataDiscoverable,
    title: "The authorization server's metadata is found by RFC 8414 or OIDC discovery",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-server-metadata-discovery",
        section: "MCP Authorization, Authorization Server Metadata Discovery; Overview item 5",
    },
    revisions: BOTH,
    depends_on: &[CheckId::PrmAuthorizationServers],
    note: None,
    judge: metadata_discoverable,
};

/// `as.metadata-json`.
pub const METADATA_JSON: Check = Check {
    id: CheckId::AsMetadataJson,
    title: "The metadata is served as application/json",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc8414#section-3.2",
        section: "RFC 8414 §3.2 (\"MUST ... return a JSON object using the application/json content type\")",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "The tester reads a JSON body whatever its content type, so the other checks still judge what it says; a client that goes by the content type (as browsers' fetch does with CORS) does not.",
    ),
    judge: metadata_json,
};

/// `as.issuer-matches`.
pub const ISSUER_MATCHES: Check = Check {
    id: CheckId::AsIssuerMatches,
    title: "The metadata's issuer is the authorization server the PRM names",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc8414#section-3.3",
        section: "RFC 8414 §3.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: None,
    judge: issuer_matches,
};

/// `as.endpoints`.
pub const ENDPOINTS: Check = Check {
    id: CheckId::AsEndpoints,
    title: "The metadata gives authorization_endpoint and token_endpoint",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc8414#section-2",
        section: "RFC 8414 §2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: None,
    judge: endpoints,
};

/// `as.response-types`.
pub const RESPONSE_TYPES: Check = Check {
    id: CheckId::AsResponseTypes,
    title: "The metadata lists response_types_supported, with code",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc8414#section-2",
        section: "RFC 8414 §2; OAuth 2.1 §4.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "RFC 8414 §2 makes response_types_supported REQUIRED; MCP clients use the authorization code flow, so it must list code. The other REQUIRED members are judged by as.issuer-matches (issuer) and as.endpoints (authorization_endpoint, token_endpoint).",
    ),
    judge: response_types,
};

/// `as.https`.
pub const HTTPS: Check = Check {
    id: CheckId::AsHttps,
    title: "Authorization server endpoints use HTTPS (loopback excepted)",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#communication-security",
        section: "MCP Authorization, Communication Security",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "Loopback addresses are accepted over http, for servers under test on a developer's machine.",
    ),
    judge: https,
};

/// `as.pkce-s256`.
pub const PKCE_S256: Check = Check {
    id: CheckId::AsPkceS256,
    title: "code_challenge_methods_supported contains S256",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-code-protection",
        section: "MCP Authorization, Authorization Code Protection",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "Clients MUST refuse to proceed without it, so its absence stops every compliant client.",
    ),
    judge: pkce_s256,
};

/// `as.iss-parameter`.
pub const ISS_PARAMETER: Check = Check {
    id: CheckId::AsIssParameter,
    title: "authorization_response_iss_parameter_supported is advertised (RFC 9207)",
    level: Level::Should,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization#authorization-response-validation",
        section: "MCP Authorization (2026-07-28), Authorization Response Validation",
    },
    revisions: &[Revision::R2026_07_28],
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "The spec says authorization servers SHOULD send iss; those that do MUST advertise it. Only the advertisement is judged here.",
    ),
    judge: iss_parameter,
};

fn evidence(o: &Observations) -> Vec<Exchange> {
    o.discovery.as_exchange().cloned().into_iter().collect()
}

fn metadata_discoverable(o: &Observations) -> Finding {
    let d = &o.discovery;
    match d.as_exchange() {
        Some(e) => pass(format!("found at {}", e.url), evidence(o)),
        None => fail(
            format!(
                "no RFC 8414 or OIDC metadata for the PRM's issuer; tried {}",
                d.as_attempts
                    .iter()
                    .map(|e| e.url.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            d.as_attempts.clone(),
        ),
    }
}

fn metadata_json(o: &Observations) -> Finding {
    let Some(e) = o.discovery.as_exchange() else {
        return super::skip("no metadata was found (see as.metadata-discoverable)");
    };
    if super::is_json(e.content_type.as_deref()) {
        pass("application/json", evidence(o))
    } else {
        fail(
            format!(
                "served as {:?}",
                e.content_type.as_deref().unwrap_or("no content type")
            ),
            evidence(o),
        )
    }
}

fn issuer_matches(o: &Observations) -> Finding {
    let issuer = o.as_field("issuer").and_then(|i| i.as_str());
    match (issuer, o.discovery.issuer.as_deref()) {
        (Some(i), Some(asked)) if i == asked => pass("issuer matches exactly", evidence(o)),
        (Some(i), Some(_)) => fail(
            format!("issuer is {i:?}, not the issuer the PRM names"),
            evidence(o),
        ),
        _ => fail("no issuer member", evidence(o)),
    }
}

fn endpoints(o: &Observations) -> Finding {
    let missing: Vec<&str> = ["authorization_endpoint", "token_endpoint"]
        .into_iter()
        .filter(|k| o.discovery.as_url(k).is_none())
        .collect();
    if missing.is_empty() {
        pass("both endpoints are URLs", evidence(o))
    } else {
        fail(
            format!("missing or not a URL: {}", missing.join(", ")),
            evidence(o),
        )
    }
}

fn response_types(o: &Observations) -> Finding {
    match o.as_field("response_types_supported") {
        Some(v) if v.as_array().is_some_and(|a| a.iter().any(|t| t == "code")) => {
            pass("lists code", evidence(o))
        }
        Some(v) => fail(
            format!("response_types_supported is {v}, without code"),
            evidence(o),
        ),
        None => fail(
            "response_types_supported is absent (RFC 8414 §2: REQUIRED)",
            evidence(o),
        ),
    }
}

fn https(o: &Observations) -> Finding {
    let insecure: Vec<String> = [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
        "jwks_uri",
    ]
    .iter()
    .filter_map(|k| Some((*k, o.as_field(k)?.as_str()?)))
    .filter(|(_, v)| url::Url::parse(v).is_ok_and(|u| insecure(&u)))
    .map(|(k, v)| format!("{k} {v}"))
    .collect();
    if insecure.is_empty() {
        pass("https, or loopback", evidence(o))
    } else {
        fail(format!("not https: {}", insecure.join(", ")), evidence(o))
    }
}

fn pkce_s256(o: &Observations) -> Finding {
    match o.as_field("code_challenge_methods_supported") {
        Some(v) if v.as_array().is_some_and(|a| a.iter().any(|m| m == "S256")) => {
            pass("S256 supported", evidence(o))
        }
        Some(v) => fail(
            format!("code_challenge_methods_supported is {v}, without S256"),
            evidence(o),
        ),
        None => fail(
            "code_challenge_methods_supported is absent: clients must refuse to proceed",
            evidence(o),
        ),
    }
}

fn iss_parameter(o: &Observations) -> Finding {
    if o.as_flag("authorization_response_iss_parameter_supported") {
        pass("advertised", evidence(o))
    } else {
        fail(
            "authorization_response_iss_parameter_supported is not true",
            evidence(o),
        )
    }
}
