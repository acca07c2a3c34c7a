//! The 401 an MCP request without a token gets, and its `WWW-Authenticate` challenge.

use url::Url;

use super::{Finding, fail, pass, skip};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    observe::Observations,
    probe::Exchange,
    revision::BOTH,
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

/// `challenge.every-method`.
pub const EVERY_METHOD: Check = Check {
    id: CheckId::ChallengeEveryMethod,
    title: "GET (the event stream) and DELETE without a token are refused with 401 (or 405 where the method is not offered), never served",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
        section: "MCP Authorization, Token Handling (authorization in every HTTP request); OAuth 2.1 §5.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::ChallengeStatus401],
    note: Some(
        "Served without a token (2xx) fails. 405 passes: the transport lets a server offer no stream (GET) and no ending (DELETE), and nothing is served. Another refusal (400, 404) is a warning: nothing is served, but a client is not told to sign in. Whether each 401 carries its challenge is challenge.every-401's.",
    ),
    judge: every_method,
};

/// `challenge.every-401`.
pub const EVERY_401: Check = Check {
    id: CheckId::ChallengeEvery401,
    title: "Every other 401 (to a bad token, to GET and DELETE) carries a Bearer challenge in WWW-Authenticate",
    level: Level::Must,
    citation: Citation {
        url: "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2",
        section: "RFC 9110 §15.5.2 (\"MUST send a WWW-Authenticate header field\"); RFC 6750 §3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::ChallengeBearer],
    note: Some(
        "The 401 to the opening request is challenge.bearer's; this one looks at every other 401 the run saw on the MCP endpoint, so a server whose challenge only the first request gets is caught.",
    ),
    judge: every_401,
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

fn every_method(o: &Observations) -> Finding {
    let seen = &o.challenge.other_methods;
    let evidence = seen.clone();
    let served: Vec<String> = seen
        .iter()
        .filter(|e| e.status.is_some_and(|s| (200..300).contains(&s)))
        .map(|e| format!("{} (HTTP {})", e.method, e.status.unwrap_or_default()))
        .collect();
    if !served.is_empty() {
        return fail(
            format!("served without a token: {}", served.join(", ")),
            evidence,
        );
    }
    let other: Vec<String> = seen
        .iter()
        .filter(|e| !matches!(e.status, Some(401 | 405)))
        .map(|e| {
            let status = e
                .status
                .map_or_else(|| "no answer".into(), |s| s.to_string());
            format!("{} {status}", e.method)
        })
        .collect();
    if other.is_empty() {
        pass(
            "GET and DELETE without a token were refused (401, or 405 for a method not offered)",
            evidence,
        )
    } else {
        super::warn(
            format!(
                "refused, but not with 401: {} (a client is not told to sign in)",
                other.join(", ")
            ),
            evidence,
        )
    }
}

fn every_401(o: &Observations) -> Finding {
    let mut seen: Vec<&Exchange> = o.challenge.other_methods.iter().collect();
    seen.extend(o.tokens.carrying_a_token());
    if let Some(Ok(in_session)) = &o.tokens.session_only {
        seen.extend(in_session);
    }
    let refused: Vec<&Exchange> = seen.into_iter().filter(|e| e.status == Some(401)).collect();
    if refused.is_empty() {
        return skip("no request but the opening one was answered 401");
    }
    let bare: Vec<Exchange> = refused
        .iter()
        .filter(|e| e.bearer_challenges().next().is_none())
        .map(|e| (*e).clone())
        .collect();
    if bare.is_empty() {
        return pass(
            format!(
                "{} answers 401, each with a Bearer challenge",
                refused.len()
            ),
            refused.into_iter().take(3).cloned().collect(),
        );
    }
    let which: Vec<String> = bare
        .iter()
        .map(|e| format!("{} {}", e.method, e.url))
        .collect();
    fail(
        format!(
            "{} of {} answers 401 carry no Bearer challenge: {}",
            bare.len(),
            refused.len(),
            which.join(", ")
        ),
        bare,
    )
}
