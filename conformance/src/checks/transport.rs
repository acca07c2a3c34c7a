//! The transport: HTTPS (or loopback) for everything a token travels to, the Origin check
//! against DNS rebinding, CORS on the metadata, and no token repeated back.

use super::{Finding, all_of, fail, insecure, pass, skip, warn};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    observe::{Observations, WEB_ORIGIN, tokens::FOREIGN_ORIGIN},
    probe::Exchange,
    revision::{BOTH, Revision},
};

/// `transport.https`.
pub const HTTPS: Check = Check {
    id: CheckId::TransportHttps,
    title: "The MCP endpoint and the metadata URL it advertises use HTTPS, or loopback",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#communication-security",
        section: "MCP Authorization, Communication Security; OAuth 2.1 §1.5; RFC 6750 §5.3",
    },
    revisions: BOTH,
    depends_on: &[],
    note: Some(
        "The spec makes OAuth 2.1 §1.5 a MUST: bearer tokens travel only over TLS. Loopback (127.0.0.0/8, ::1, localhost) is exempt, as for redirect URIs. The AS's endpoints are judged by as.https.",
    ),
    judge: https,
};

/// `transport.origin-validated`.
pub const ORIGIN_VALIDATED: Check = Check {
    id: CheckId::TransportOriginValidated,
    title: "Requests from a foreign Origin (POST, GET, DELETE) are answered 403 (DNS-rebinding defence)",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#security-warning",
        section: "MCP Transports, Streamable HTTP, Security Warning (2025-11-25; Security & Endpoint in 2026-07-28)",
    },
    revisions: BOTH,
    depends_on: &[CheckId::TokenAccepted],
    note: Some(
        "\"Servers MUST validate the Origin header on all incoming connections ... If the Origin header is present and invalid, servers MUST respond with HTTP 403 Forbidden\" (both revisions). The opening request that token.accepted saw answered, GET and DELETE are sent with the valid token and Origin: https://dns-rebinding.example; each must be 403 (the Origin is judged before the method: 405 is not enough).",
    ),
    judge: origin_validated,
};

/// `transport.header-mismatch-refused`.
pub const HEADER_MISMATCH_REFUSED: Check = Check {
    id: CheckId::TransportHeaderMismatchRefused,
    title: "A request whose Mcp-Method or Mcp-Name header disagrees with its body is refused: 400 with JSON-RPC error -32020",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http#server-validation",
        section: "MCP Transports (2026-07-28), Streamable HTTP, Server Validation",
    },
    revisions: &[Revision::R2026_07_28],
    depends_on: &[CheckId::TokenAccepted],
    note: Some(
        "With the valid token: tools/list sent with Mcp-Method: ping, and a tools/call whose Mcp-Name names another tool. A server that serves the body's method lets a proxy or policy that reads the headers be bypassed. 400 with another error is a warning.",
    ),
    judge: header_mismatch_refused,
};

/// `transport.metadata-cors`.
pub const METADATA_CORS: Check = Check {
    id: CheckId::TransportMetadataCors,
    title: "The metadata documents can be read from a web page of another origin (CORS)",
    level: Level::May,
    citation: Citation {
        url: "https://fetch.spec.whatwg.org/#http-access-control-allow-origin",
        section: "Fetch Standard, CORS protocol (the MCP spec and RFCs 8414 / 9728 are silent)",
    },
    revisions: BOTH,
    depends_on: &[CheckId::PrmDiscoverable],
    note: Some(
        "No spec asks for it: judged as MAY, so a failure is reported but never fails the gate. Browser-based MCP clients (web inspectors, in-browser agents) can discover authorization only if the PRM and AS metadata answer a cross-origin GET with Access-Control-Allow-Origin.",
    ),
    judge: metadata_cors,
};

/// `transport.token-not-echoed`.
pub const TOKEN_NOT_ECHOED: Check = Check {
    id: CheckId::TransportTokenNotEchoed,
    title: "No response repeats the bearer token the request carried",
    level: Level::Should,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-7.1",
        section: "OAuth 2.1 §7.1 (token theft); MCP Authorization, Security Considerations, Token Theft",
    },
    revisions: BOTH,
    depends_on: &[],
    note: Some(
        "No sentence forbids it outright: judged as SHOULD. A token repeated in an error body or header ends up in client logs, proxies and screens; the spec's token-theft section asks servers not to expose tokens they hold.",
    ),
    judge: token_not_echoed,
};

fn https(o: &Observations) -> Finding {
    let advertised = o.challenge.advertised_metadata();
    let insecure: Vec<String> = std::iter::once(("the MCP endpoint", o.target.clone()))
        .chain(advertised.map(|u| ("resource_metadata", u)))
        .filter(|(_, u)| insecure(u))
        .map(|(what, u)| format!("{what} {u}"))
        .collect();
    let evidence = vec![o.challenge.unauthenticated.clone()];
    if insecure.is_empty() {
        pass("https, or loopback", evidence)
    } else {
        fail(format!("not https: {}", insecure.join(", ")), evidence)
    }
}

fn origin_validated(o: &Observations) -> Finding {
    let Some(seen) = &o.tokens.foreign_origin else {
        return skip("needs a valid token (see token.accepted)");
    };
    let evidence = seen.clone();
    let answered = |e: &Exchange| {
        e.status.map_or_else(
            || format!("{} no answer", e.method),
            |s| format!("{} {s}", e.method),
        )
    };
    let served: Vec<String> = seen
        .iter()
        .filter(|e| e.status.is_some_and(|s| (200..300).contains(&s)))
        .map(answered)
        .collect();
    if !served.is_empty() {
        return fail(
            format!(
                "requests from Origin {FOREIGN_ORIGIN} were served ({}): nothing stops DNS rebinding",
                served.join(", ")
            ),
            evidence,
        );
    }
    let other: Vec<String> = seen
        .iter()
        .filter(|e| e.status != Some(403))
        .map(answered)
        .collect();
    if other.is_empty() {
        pass(
            format!("Origin {FOREIGN_ORIGIN} was answered 403 on POST, GET and DELETE"),
            evidence,
        )
    } else {
        fail(
            format!(
                "requests from Origin {FOREIGN_ORIGIN} were answered {}, not 403",
                other.join(", ")
            ),
            evidence,
        )
    }
}

fn header_mismatch_refused(o: &Observations) -> Finding {
    let Some(seen) = &o.tokens.header_mismatch else {
        return skip("needs a valid token (see token.accepted), on 2026-07-28");
    };
    let findings: Vec<Finding> = seen
        .iter()
        .map(|(e, code)| mismatch_refused(e, *code))
        .collect();
    all_of(
        findings,
        seen.iter().map(|(e, _)| e.clone()).collect(),
        "both mismatches were answered 400 with -32020 (HeaderMismatch)",
    )
}

fn mismatch_refused(e: &Exchange, code: Option<i64>) -> Finding {
    match (e.status, code) {
        (Some(400), Some(-32020)) => pass("400 -32020", vec![e.clone()]),
        (Some(400), other) => warn(
            format!(
                "refused with 400, but error code {} (the spec names -32020, HeaderMismatch)",
                other.map_or_else(|| "none".to_owned(), |c| c.to_string())
            ),
            vec![e.clone()],
        ),
        (Some(s), _) => fail(
            format!(
                "a request whose headers disagree with its body was answered {s}, not refused with 400"
            ),
            vec![e.clone()],
        ),
        (None, _) => fail("no answer", vec![e.clone()]),
    }
}

fn metadata_cors(o: &Observations) -> Finding {
    let fetched = &o.discovery.cross_origin;
    if fetched.is_empty() {
        return skip("no metadata document was found");
    }
    let closed: Vec<&str> = fetched
        .iter()
        .filter(|e| {
            !matches!(e.access_control_allow_origin.as_deref(), Some(v) if v == "*" || v == WEB_ORIGIN)
        })
        .map(|e| e.url.as_str())
        .collect();
    if closed.is_empty() {
        pass(
            "Access-Control-Allow-Origin allows a web page's origin",
            fetched.clone(),
        )
    } else {
        // A MAY: reported, never a gate (exit codes ignore MAY failures).
        fail(
            format!(
                "no Access-Control-Allow-Origin for another origin on {}: browser-based clients cannot read it",
                closed.join(", ")
            ),
            fetched.clone(),
        )
    }
}

fn token_not_echoed(o: &Observations) -> Finding {
    let requests = o.tokens.carrying_a_token();
    let echoed: Vec<Exchange> = requests
        .iter()
        .filter(|e| e.token_echoed)
        .map(|e| (*e).clone())
        .collect();
    if echoed.is_empty() {
        pass(
            format!(
                "{} responses to requests with a token: none repeats it",
                requests.len()
            ),
            Vec::new(),
        )
    } else {
        fail(
            format!(
                "{} of {} responses repeat the token they were sent (shown as [the token])",
                echoed.len(),
                requests.len()
            ),
            echoed,
        )
    }
}
