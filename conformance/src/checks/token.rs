//! What the MCP endpoint makes of tokens: a valid one works (in the header only), invalid,
//! unsigned and expired ones get 401, a tool beyond the token's scope gets the 403 step-up, and a
//! session is no substitute for a token.

use super::{Finding, ResourceAnswer, fail, pass, resource_answer, skip, status};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    observe::{Observations, mcp::Speaker},
    probe::Exchange,
    revision::{BOTH, Revision},
};

/// `token.accepted`.
pub const ACCEPTED: Check = Check {
    id: CheckId::TokenAccepted,
    title: "A valid token is accepted: the opening request (initialize, or server/discover on 2026-07-28) and tools/list answer with results",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
        section: "MCP Authorization, Token Handling; OAuth 2.1 §5.2",
    },
    revisions: BOTH,
    depends_on: &[],
    note: Some(
        "Needs a token: the one the authorization code flow obtained, or one given with --token / --token-file; skipped without.",
    ),
    judge: accepted,
};

/// `token.query-refused`.
pub const QUERY_REFUSED: Check = Check {
    id: CheckId::TokenQueryRefused,
    title: "A valid token in the query string, without the header, is not accepted",
    level: Level::Should,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-requirements",
        section: "MCP Authorization, Token Requirements; RFC 6750 §2.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::TokenAccepted],
    note: Some(
        "The spec forbids clients to send tokens in the query; for servers it is silent, and RFC 6750 lets them accept it. Accepting it invites tokens into logs, so this is judged a SHOULD. Needs a token.",
    ),
    judge: query_refused,
};

/// `token.invalid-rejected`.
pub const INVALID_REJECTED: Check = Check {
    id: CheckId::TokenInvalidRejected,
    title: "A request with an invalid token is answered 401",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
        section: "MCP Authorization, Token Handling",
    },
    revisions: BOTH,
    depends_on: &[],
    note: None,
    judge: invalid_rejected,
};

/// `token.invalid-token-error`.
pub const INVALID_TOKEN_ERROR: Check = Check {
    id: CheckId::TokenInvalidTokenError,
    title: "The 401 for an invalid token says error=\"invalid_token\"",
    level: Level::Should,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc6750#section-3.1",
        section: "RFC 6750 §3, §3.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::TokenInvalidRejected],
    note: Some(
        "RFC 6750: a server SHOULD include the error attribute when a request carried a token that failed; invalid_token is the code for a malformed, expired or otherwise invalid one.",
    ),
    judge: invalid_token_error,
};

/// `token.unsigned-rejected`.
pub const UNSIGNED_REJECTED: Check = Check {
    id: CheckId::TokenUnsignedRejected,
    title: "An unsigned (alg none) JWT naming this issuer and resource is refused",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#access-token-privilege-restriction",
        section: "MCP Authorization, Access Token Privilege Restriction; OAuth 2.1 §5.2",
    },
    revisions: BOTH,
    depends_on: &[],
    note: None,
    judge: unsigned_rejected,
};

/// `token.tampered-signature-rejected`.
pub const TAMPERED_SIGNATURE_REJECTED: Check = Check {
    id: CheckId::TokenTamperedSignatureRejected,
    title: "The valid JWT with one bit of its signature changed is refused",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
        section: "MCP Authorization, Token Handling (\"MCP servers MUST validate access tokens\"); OAuth 2.1 §5.2; RFC 7515 §5.2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::TokenAccepted],
    note: Some(
        "Header and claims exactly as the AS issued them, so a server that decodes a JWT without verifying its signature takes it. Needs a valid token that is a JWT; skipped for an opaque one.",
    ),
    judge: tampered_signature_rejected,
};

/// `token.foreign-key-rejected`.
pub const FOREIGN_KEY_REJECTED: Check = Check {
    id: CheckId::TokenForeignKeyRejected,
    title: "The valid JWT's claims signed by a key the AS never published (under its kid, the key in a jwk header) are refused",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc8725#section-3.10",
        section: "MCP Authorization, Token Handling; OAuth 2.1 §5.2; RFC 8725 §3.10",
    },
    revisions: BOTH,
    depends_on: &[CheckId::TokenAccepted],
    note: Some(
        "A fresh key of the tester's signs the valid token's claims with its alg (RS256 or ES256) and kid, and rides along as a jwk header: a server that trusts the key a token brings, or any key at all, takes it. Needs a valid JWT; skipped for an opaque one or another alg.",
    ),
    judge: foreign_key_rejected,
};

/// `token.expired-rejected`.
pub const EXPIRED_REJECTED: Check = Check {
    id: CheckId::TokenExpiredRejected,
    title: "An expired token is answered 401",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
        section: "MCP Authorization, Token Handling (\"Invalid or expired tokens MUST receive a HTTP 401 response\"); OAuth 2.1 §5.2",
    },
    revisions: BOTH,
    depends_on: &[],
    note: Some(
        "Needs a token of the server's authorization server that has expired (--expired-token, --expired-token-file); skipped without one. A JWT's exp claim is read, unverified, to make sure it has expired; an opaque token is taken on the caller's word.",
    ),
    judge: expired_rejected,
};

/// `token.insufficient-scope`.
pub const INSUFFICIENT_SCOPE: Check = Check {
    id: CheckId::TokenInsufficientScope,
    title: "A tool the token's scope does not allow is answered 403 insufficient_scope with scope",
    level: Level::Should,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#runtime-insufficient-scope-errors",
        section: "MCP Authorization, Runtime Insufficient Scope Errors; RFC 6750 §3.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::TokenAccepted],
    note: Some(
        "Needs the name of a tool the token's scope does not allow (--step-up-tool); the tool is called with no arguments.",
    ),
    judge: insufficient_scope,
};

/// `token.session-not-authentication`.
pub const SESSION_NOT_AUTHENTICATION: Check = Check {
    id: CheckId::TokenSessionNotAuthentication,
    title: "Requests in an authenticated session but without a token (tools/list, GET, DELETE) are answered 401 (405 for a method not offered)",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/docs/tutorials/security/security_best_practices#session-hijacking",
        section: "MCP Security Best Practices, Session Hijacking; MCP Authorization, Token Requirements",
    },
    revisions: &[Revision::R2025_11_25],
    depends_on: &[CheckId::TokenAccepted],
    note: Some(
        "\"MCP Servers MUST NOT use sessions for authentication\", and authorization MUST be included in every request, even in the same session. After an authenticated initialize, tools/list is sent with the Mcp-Session-Id alone. 2026-07-28 has no sessions.",
    ),
    judge: session_not_authentication,
};

fn accepted(o: &Observations) -> Finding {
    let Some(seen) = &o.tokens.with_token else {
        return skip("no token: none given (--token, --token-file) and none obtained (--login)");
    };
    let evidence: Vec<Exchange> = seen.iter().map(|(e, _)| e.clone()).collect();
    match seen.iter().find(|(_, ok)| !ok) {
        None => pass(
            format!(
                "{} and tools/list answered with results",
                Speaker::new(o.revision).opening_method()
            ),
            evidence,
        ),
        Some((e, _)) => fail(
            format!(
                "{} {} did not answer with a JSON-RPC result (HTTP {})",
                e.method,
                e.url,
                e.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into())
            ),
            evidence,
        ),
    }
}

fn query_refused(o: &Observations) -> Finding {
    match &o.tokens.query_token {
        None => skip("no token"),
        Some(e) => {
            let evidence = vec![e.clone()];
            let what = "a token in the query string";
            match resource_answer(e, what, o.tokens.valid_token_accepted(), evidence.clone()) {
                ResourceAnswer::Refused(s) => pass(format!("answered {s}"), evidence),
                ResourceAnswer::Accepted(s) => {
                    fail(format!("{what} was accepted (HTTP {s})"), evidence)
                }
                ResourceAnswer::NotJudged(finding) => finding,
            }
        }
    }
}

fn invalid_rejected(o: &Observations) -> Finding {
    token_refused(&o.tokens.garbage_token, "an invalid token")
}

fn invalid_token_error(o: &Observations) -> Finding {
    let e = &o.tokens.garbage_token;
    let evidence = vec![e.clone()];
    if e.www_authenticate.is_empty() {
        return fail("no WWW-Authenticate header", evidence);
    }
    let Some(challenge) = e.bearer_challenges().next() else {
        return fail(
            "no Bearer challenge in the WWW-Authenticate header",
            evidence,
        );
    };
    match challenge.param("error") {
        Some("invalid_token") => pass("error=\"invalid_token\"", evidence),
        Some(other) => fail(format!("error=\"{other}\", not invalid_token"), evidence),
        None => fail("the Bearer challenge has no error parameter", evidence),
    }
}

fn unsigned_rejected(o: &Observations) -> Finding {
    token_refused(&o.tokens.unsigned_token, "an unsigned (alg none) JWT")
}

fn tampered_signature_rejected(o: &Observations) -> Finding {
    forgery_refused(
        &o.tokens.tampered_signature,
        "the valid token with a changed signature",
    )
}

fn foreign_key_rejected(o: &Observations) -> Finding {
    forgery_refused(
        &o.tokens.foreign_key,
        "the valid token's claims signed by a foreign key",
    )
}

fn forgery_refused(
    probe: &Option<Result<Exchange, crate::observe::forged::NotForgeable>>,
    what: &str,
) -> Finding {
    match probe {
        None => skip("needs a valid token: obtained by the code flow, or --token"),
        Some(Err(why)) => skip(why.clone()),
        Some(Ok(e)) => token_refused(e, what),
    }
}

fn expired_rejected(o: &Observations) -> Finding {
    match &o.tokens.expired_token {
        None => skip("give a token that has expired: --expired-token or --expired-token-file"),
        Some(t) if t.expired_for.is_some_and(|s| s <= 0) => {
            skip("the token given as expired has not expired yet (its exp claim is in the future)")
        }
        Some(t) => token_refused(
            &t.exchange,
            if t.expired_for.is_some() {
                "a token past its exp"
            } else {
                "a token given as expired (opaque: its expiry cannot be read)"
            },
        ),
    }
}

fn insufficient_scope(o: &Observations) -> Finding {
    let Some(e) = &o.tokens.step_up else {
        return skip("name a tool the token's scope does not allow: --step-up-tool");
    };
    let evidence = vec![e.clone()];
    let challenge = e.bearer_challenges().next();
    let error = challenge.as_ref().and_then(|c| c.param("error"));
    let scope = challenge.as_ref().and_then(|c| c.param("scope"));
    match (e.status, error, scope) {
        (Some(403), Some("insufficient_scope"), Some(s)) => {
            pass(format!("403 insufficient_scope, scope=\"{s}\""), evidence)
        }
        (Some(403), Some("insufficient_scope"), None) => {
            fail("403 insufficient_scope without the scope needed", evidence)
        }
        (Some(403), other, _) => fail(
            format!("403, but error={}", other.unwrap_or("none")),
            evidence,
        ),
        _ if let Some(why) = not_beyond_the_token(o) => skip(why),
        (Some(s), _, _) if (200..300).contains(&s) => fail(
            format!(
                "answered {s}: the tool was not refused for scope (ask a narrower --scope if the token covers it)"
            ),
            evidence,
        ),
        (Some(s), _, _) => fail(format!("answered {s}, not 403"), evidence),
        (None, _, _) => fail("no answer", evidence),
    }
}

/// Why the step-up call proves nothing of the server, when it does not: the tool is not one
/// the server lists, or the token holds every scope the server lists, so no tool is beyond it.
fn not_beyond_the_token(o: &Observations) -> Option<String> {
    let t = &o.tokens;
    let tool = t.step_up_tool.as_deref()?;
    if let Some(listed) = &t.listed_tools
        && !listed.iter().any(|n| n == tool)
    {
        return Some(format!(
            "--step-up-tool {tool} is not among the tools the server lists ({})",
            listed.join(", ")
        ));
    }
    let supported: Vec<&str> = o
        .discovery
        .prm_json()
        .and_then(|j| j.get("scopes_supported"))
        .and_then(|s| s.as_array())
        .map(|s| s.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let granted = t.valid_scope.as_ref()?;
    let holds = |s: &&str| {
        granted
            .iter()
            .any(|g| g == s || g.rsplit_once('/').is_some_and(|(_, name)| name == *s))
    };
    (!supported.is_empty() && supported.iter().all(holds)).then(|| {
        format!(
            "the token holds every scope the server lists ({}): no tool is beyond it; give a narrower token (--token) or --scope",
            supported.join(" ")
        )
    })
}

fn session_not_authentication(o: &Observations) -> Finding {
    let seen = match &o.tokens.session_only {
        None => return skip("needs a valid token (see token.accepted)"),
        Some(Err(why)) => return skip(why.clone()),
        Some(Ok(seen)) => seen,
    };
    let evidence = seen.clone();
    let served: Vec<String> = seen
        .iter()
        .filter(|e| e.status.is_some_and(|s| (200..300).contains(&s)))
        .map(|e| format!("{} (HTTP {})", e.method, status(e)))
        .collect();
    if !served.is_empty() {
        return fail(
            format!(
                "requests carrying the session id but no token were served: {}; the session authenticated them",
                served.join(", ")
            ),
            evidence,
        );
    }
    // GET and DELETE may be answered 405 where the server offers no stream or no ending.
    let wrong: Vec<String> = seen
        .iter()
        .filter(|e| match e.status {
            Some(401) => false,
            Some(405) => e.method == "POST",
            _ => true,
        })
        .map(|e| format!("{} {}", e.method, status(e)))
        .collect();
    if wrong.is_empty() {
        pass(
            "tools/list, GET and DELETE with the session id alone were refused (401, or 405 for a method not offered)",
            evidence,
        )
    } else {
        fail(
            format!(
                "requests carrying the session id but no token were answered {}, not 401",
                wrong.join(", ")
            ),
            evidence,
        )
    }
}

/// A token the server must refuse: "Invalid or expired tokens MUST receive a HTTP 401
/// response" (whether its challenge says so properly is token.invalid-token-error's).
fn token_refused(e: &Exchange, what: &str) -> Finding {
    let evidence = vec![e.clone()];
    match e.status {
        Some(401) => pass(format!("{what} was answered 401"), evidence),
        Some(s) if (200..300).contains(&s) => {
            fail(format!("{what} was accepted (HTTP {s})"), evidence)
        }
        Some(s) => fail(format!("{what} was answered {s}, not 401"), evidence),
        None => fail(format!("no answer to {what}"), evidence),
    }
}
