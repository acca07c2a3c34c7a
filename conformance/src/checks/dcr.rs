//! Dynamic Client Registration (RFC 7591), when the authorization server advertises it: the
//! tester's client is registered as sent, and registrations that must fail are refused the way
//! RFC 7591 §3.2.2 says.

use super::{Finding, all_of, fail, is_json, pass, skip, status};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    observe::{
        Observations,
        registration::{INSECURE_REDIRECT, MALFORMED_REDIRECT, Registration},
    },
    probe::Exchange,
    revision::BOTH,
};

/// `dcr.registers`.
pub const REGISTERS: Check = Check {
    id: CheckId::DcrRegisters,
    title: "Dynamic Client Registration answers 201 with a client_id",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.1",
        section: "RFC 7591 §3.2.1; MCP Authorization, Dynamic Client Registration",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "DCR is optional (MAY; deprecated in 2026-07-28): skipped when no registration_endpoint is advertised; advertised, RFC 7591 applies. The check registers a public loopback client on the server.",
    ),
    judge: registers,
};

/// `dcr.echoes-metadata`.
pub const ECHOES_METADATA: Check = Check {
    id: CheckId::DcrEchoesMetadata,
    title: "The registration response returns the registered metadata",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.1",
        section: "RFC 7591 §3.2.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::DcrRegisters],
    note: None,
    judge: echoes_metadata,
};

/// `dcr.rejects-insecure-redirect`.
pub const REJECTS_INSECURE_REDIRECT: Check = Check {
    id: CheckId::DcrRejectsInsecureRedirect,
    title: "A registration with an http redirect URI on a public host is refused with an RFC 7591 error",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#communication-security",
        section: "MCP Authorization, Communication Security; RFC 7591 §3.2.2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "All redirect URIs MUST be localhost or HTTPS; the error must be invalid_redirect_uri or invalid_client_metadata.",
    ),
    judge: rejects_insecure_redirect,
};

/// `dcr.rejects-malformed-redirect`.
pub const REJECTS_MALFORMED_REDIRECT: Check = Check {
    id: CheckId::DcrRejectsMalformedRedirect,
    title: "A registration whose redirect URI is not a URI is refused with an RFC 7591 error",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.2",
        section: "RFC 7591 §3.2.2; OAuth 2.1 §2.3.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "Redirect URIs MUST be absolute URIs (OAuth 2.1 §2.3.1), so \"not a uri\" cannot be registered; RFC 7591 §3.2.2 says how to refuse: HTTP 400, application/json, error invalid_redirect_uri or invalid_client_metadata.",
    ),
    judge: rejects_malformed_redirect,
};

/// `dcr.rejects-script-redirect`.
pub const REJECTS_SCRIPT_REDIRECT: Check = Check {
    id: CheckId::DcrRejectsScriptRedirect,
    title: "Registrations whose redirect URI is javascript: or data: are refused with an RFC 7591 error",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization/security-considerations#communication-security",
        section: "MCP Authorization, Security Considerations, Communication Security (\"All redirect URIs MUST be either localhost or use HTTPS\"); RFC 7591 §3.2.2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsMetadataDiscoverable],
    note: Some(
        "Registered, such a redirect URI makes the AS hand the code (or an error carrying the attacker's text) to script running on the AS's own origin. Each is registered on its own; both must be refused as dcr.rejects-malformed-redirect judges a refusal.",
    ),
    judge: rejects_script_redirect,
};

/// Skipped without a `registration_endpoint`: DCR is optional.
const NOT_ADVERTISED: &str =
    "the authorization server advertises no registration_endpoint (DCR is optional)";

fn registers(o: &Observations) -> Finding {
    let Some(r) = &o.registration.valid else {
        return skip(NOT_ADVERTISED);
    };
    let e = vec![r.exchange.clone()];
    match (r.exchange.status, r.field("client_id")) {
        (Some(201), Some(_)) => pass("201 Created with a client_id", e),
        (Some(201), None) => fail("201, but no client_id in the response", e),
        (Some(s), _) => fail(format!("a valid registration was answered {s}, not 201"), e),
        (None, _) => fail("no answer", e),
    }
}

fn echoes_metadata(o: &Observations) -> Finding {
    let Some(r) = &o.registration.valid else {
        return skip(NOT_ADVERTISED);
    };
    let redirects = r.body.as_ref().and_then(|b| b.get("redirect_uris"));
    if redirects == Some(&serde_json::json!([o.callback.as_str()])) {
        pass(
            "redirect_uris returned as registered",
            vec![r.exchange.clone()],
        )
    } else {
        fail(
            format!(
                "redirect_uris in the response is {}, not the registered value",
                redirects
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "absent".into())
            ),
            vec![r.exchange.clone()],
        )
    }
}

fn rejects_insecure_redirect(o: &Observations) -> Finding {
    refused(o.registration.insecure.as_ref(), INSECURE_REDIRECT)
}

fn rejects_malformed_redirect(o: &Observations) -> Finding {
    refused(o.registration.malformed.as_ref(), MALFORMED_REDIRECT)
}

fn rejects_script_redirect(o: &Observations) -> Finding {
    let tried = &o.registration.script;
    if tried.is_empty() {
        return skip(NOT_ADVERTISED);
    }
    let findings: Vec<Finding> = tried
        .iter()
        .map(|(redirect, registration)| refused(Some(registration), redirect))
        .collect();
    let evidence: Vec<Exchange> = tried.iter().map(|(_, r)| r.exchange.clone()).collect();
    all_of(
        findings,
        evidence,
        "javascript: and data: redirect URIs were refused with an RFC 7591 error",
    )
}

/// RFC 7591 §3.2.2: a registration with the redirect URI `redirect` refused with 400, a JSON
/// body, and `invalid_redirect_uri` or `invalid_client_metadata`.
fn refused(registration: Option<&Registration>, redirect: &str) -> Finding {
    let Some(r) = registration else {
        return skip(NOT_ADVERTISED);
    };
    let e = vec![r.exchange.clone()];
    let error = r.field("error");
    match (r.exchange.status, error) {
        (Some(s), _) if (200..300).contains(&s) => fail(format!("{redirect} was registered"), e),
        (Some(400), Some(code @ ("invalid_redirect_uri" | "invalid_client_metadata"))) => {
            if is_json(r.exchange.content_type.as_deref()) {
                pass(format!("400 {code}"), e)
            } else {
                fail(
                    format!(
                        "400 {code}, but served as {:?}, not application/json",
                        r.exchange
                            .content_type
                            .as_deref()
                            .unwrap_or("no content type")
                    ),
                    e,
                )
            }
        }
        (Some(400), other) => fail(
            format!(
                "400, but error is {other:?}, not invalid_redirect_uri or invalid_client_metadata"
            ),
            e,
        ),
        (Some(s), _) if s >= 500 => fail(
            format!("the registration endpoint failed (HTTP {s}): a fault, not a refusal"),
            e,
        ),
        (Some(_), _) => fail(format!("answered {}, not 400", status(&r.exchange)), e),
        (None, _) => fail("no answer", e),
    }
}
