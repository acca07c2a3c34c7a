//! The 401 an MCP request without a token gets, and its `WWW-Authenticate` challenge.

use url::Url;

use super::{Finding, fail, pass, skip};
use crate::{
    catalogue::{BOTH, Check, CheckId, Citation, Level},
    observe::Observations,
    probe::Exchange,
};

/// `challenge.status-401`.
pub const STATUS_401: Check = Check {
    id: CheckId::ChallengeStatus401,
    title: "An MCP request without a token is answered 401",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-5.3",
        section: "OAuth 2.1 §5.3; MCP Authorization, Error Handling",
    },
    revisions: BOTH,
    depends_on: &[],
    note: None,
    judge: status_401,
};

/// `challenge.bearer`.
pub const BEARER: Check = Check {
    id: CheckId::ChallengeBearer,
    title: "The 401 carries a parseable WWW-Authenticate with a Bearer challenge",
    level: Level::Must,
    citation: Citation {
        url: "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2",
        section: "RFC 9110 §15.5.2, §11.6.1; RFC 6750 §3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::ChallengeStatus401],
    note: None,
    judge: bearer,
};

/// `challenge.resource-metadata`.
pub const RESOURCE_METADATA: Check = Check {
    id: CheckId::ChallengeResourceMetadata,
    title: "If the Bearer challenge names resource_metadata, it is an absolute URL",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc9728#section-5.1",
        section: "MCP Authorization, Protected Resource Metadata Discovery Requirements; RFC 9728 §5.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::ChallengeBearer],
    note: Some(
        "Sending it is optional: the spec requires one of two mechanisms (this parameter, or the well-known URIs), which prm.discoverable judges; absent, this check is skipped. Sent, RFC 9728 §5.1 makes it the metadata URL clients use, so it must be an absolute URL.",
    ),
    judge: resource_metadata,
};

/// `challenge.scope`.
pub const SCOPE: Check = Check {
    id: CheckId::ChallengeScope,
    title: "The Bearer challenge says which scope to ask for",
    level: Level::Should,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#protected-resource-metadata-discovery-requirements",
        section: "MCP Authorization, Protected Resource Metadata Discovery Requirements (RFC 6750 §3)",
    },
    revisions: BOTH,
    depends_on: &[CheckId::ChallengeBearer],
    note: None,
    judge: scope,
};

/// `challenge.no-error-without-token`.
pub const NO_ERROR_WITHOUT_TOKEN: Check = Check {
    id: CheckId::ChallengeNoErrorWithoutToken,
    title: "The challenge to a request without any token carries no error code",
    level: Level::Should,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc6750#section-3.1",
        section: "RFC 6750 §3.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::ChallengeBearer],
    note: Some(
        "RFC 6750 §3.1: if the request lacks any authentication information, the resource server SHOULD NOT include an error code or other error information (error, error_description, error_uri); invalid_token is for a token that was sent and failed.",
    ),
    judge: no_error_without_token,
};

fn unauthenticated(o: &Observations) -> Vec<Exchange> {
    vec![o.challenge.unauthenticated.clone()]
}

fn status_401(o: &Observations) -> Finding {
    match o.challenge.unauthenticated.status {
        Some(401) => pass("answered 401", unauthenticated(o)),
        Some(s) => fail(
            format!("answered {s} to an MCP request without a token"),
            unauthenticated(o),
        ),
        None => fail("no answer", unauthenticated(o)),
    }
}

fn bearer(o: &Observations) -> Finding {
    match &o.challenge.challenges {
        Err(e) => fail(
            format!("the WWW-Authenticate header is unusable: {e}"),
            unauthenticated(o),
        ),
        Ok(_) if o.bearer().is_none() => fail(
            "no Bearer challenge among the WWW-Authenticate challenges",
            unauthenticated(o),
        ),
        Ok(_) => pass("a Bearer challenge", unauthenticated(o)),
    }
}

fn resource_metadata(o: &Observations) -> Finding {
    match o.bearer().and_then(|c| c.param("resource_metadata")) {
        None => skip(
            "not sent; the well-known URIs are the other allowed mechanism (see prm.discoverable)",
        ),
        Some(v) => match Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => {
                pass("an absolute URL", unauthenticated(o))
            }
            _ => fail(
                format!("resource_metadata {v:?} is not an absolute http(s) URL"),
                unauthenticated(o),
            ),
        },
    }
}

fn scope(o: &Observations) -> Finding {
    match o.bearer().and_then(|c| c.param("scope")) {
        Some(s) if !s.trim().is_empty() => pass(format!("scope=\"{s}\""), unauthenticated(o)),
        _ => fail("the challenge has no scope parameter", unauthenticated(o)),
    }
}

fn no_error_without_token(o: &Observations) -> Finding {
    let Some(challenge) = o.bearer() else {
        return skip("no Bearer challenge (see challenge.bearer)");
    };
    let said: Vec<String> = ["error", "error_description", "error_uri"]
        .iter()
        .filter_map(|p| challenge.param(p).map(|v| format!("{p}=\"{v}\"")))
        .collect();
    if said.is_empty() {
        pass("no error information", unauthenticated(o))
    } else {
        fail(
            format!(
                "the request carried no token, yet the challenge says {}",
                said.join(", ")
            ),
            unauthenticated(o),
        )
    }
}
