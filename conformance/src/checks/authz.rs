//! The authorization flows: the code flow itself, PKCE, `state`, RFC 9207 `iss`, the code's
//! single use, redirect URI matching, token responses, RFC 8707 resource binding, and refresh
//! token rotation.

use super::{
    AsAnswer, Finding, ResourceAnswer, all_of, fail, is_json, navigation_answer, pass,
    refusal_said, resource_answer, skip, status, token_answer, unfinished, warn,
};
use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    client::{authorization::AuthorizationResponse, browser::Landing, token::TokenAnswer},
    observe::{
        Observations,
        flow::{Attempt, FOREIGN_RESOURCE, FlowObservations},
    },
    probe::Exchange,
    revision::{BOTH, Revision},
};

/// Where MCP 2026-07-28 asks for RFC 9207 `iss`.
const RESPONSE_VALIDATION: Citation = Citation {
    url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization#authorization-response-validation",
    section: "MCP Authorization (2026-07-28), Authorization Response Validation; RFC 9207 §2",
};

/// `authz.code-flow`.
pub const CODE_FLOW: Check = Check {
    id: CheckId::AuthzCodeFlow,
    title: "The authorization code flow with PKCE S256 and resource yields an access token",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1",
        section: "OAuth 2.1 §4.1; MCP Authorization, Authorization Flow Steps",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AsEndpoints],
    note: Some(
        "Runs as a client registered by DCR. Needs --login form (or an AS that signs in without a form); skipped when the sign-in needs credentials that were not given.",
    ),
    judge: code_flow,
};

/// `authz.state-returned`.
pub const STATE_RETURNED: Check = Check {
    id: CheckId::AuthzStateReturned,
    title: "The authorization response returns state unchanged",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.2",
        section: "OAuth 2.1 §4.1.2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: None,
    judge: state_returned,
};

/// `authz.iss-in-response`.
pub const ISS_IN_RESPONSE: Check = Check {
    id: CheckId::AuthzIssInResponse,
    title: "The authorization response carries iss equal to the issuer (RFC 9207)",
    level: Level::Must,
    citation: RESPONSE_VALIDATION,
    revisions: &[Revision::R2026_07_28],
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "Sending iss is a SHOULD; an AS that advertises authorization_response_iss_parameter_supported MUST send it, and a present iss MUST equal the issuer exactly. Skipped when neither advertised nor sent.",
    ),
    judge: iss_in_response,
};

/// `authz.iss-in-error-response`.
pub const ISS_IN_ERROR_RESPONSE: Check = Check {
    id: CheckId::AuthzIssInErrorResponse,
    title: "Error responses to the client carry iss too (RFC 9207)",
    level: Level::Must,
    citation: RESPONSE_VALIDATION,
    revisions: &[Revision::R2026_07_28],
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "Judged on the error the AS sends for a request without PKCE; skipped when the AS shows an error page instead of redirecting, or when iss is neither advertised nor sent.",
    ),
    judge: iss_in_error_response,
};

/// `authz.pkce-required`.
pub const PKCE_REQUIRED: Check = Check {
    id: CheckId::AuthzPkceRequired,
    title: "An authorization request without code_challenge is refused",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.1",
        section: "OAuth 2.1 §4.1.1, §7.5.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "OAuth 2.1: authorization servers MUST enforce PKCE, the only exception being confidential OpenID Connect clients using nonce; the tester is a public client.",
    ),
    judge: pkce_required,
};

/// `authz.pkce-plain-refused`.
pub const PKCE_PLAIN_REFUSED: Check = Check {
    id: CheckId::AuthzPkcePlainRefused,
    title: "code_challenge_method=plain is refused when the metadata does not offer it",
    level: Level::Should,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#authorization-code-protection",
        section: "MCP Authorization, Authorization Code Protection; RFC 9700 §2.1.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "No RFC makes refusing plain a MUST (OAuth 2.1 still defines it). MCP clients use S256 only, and RFC 9700 recommends S256; an AS that does not list plain should not quietly accept it. A warning when plain is listed and accepted.",
    ),
    judge: pkce_plain_refused,
};

/// `authz.verifier-checked`.
pub const VERIFIER_CHECKED: Check = Check {
    id: CheckId::AuthzVerifierChecked,
    title: "A code exchanged with the wrong code_verifier is refused with invalid_grant",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc7636#section-4.6",
        section: "RFC 7636 §4.6; OAuth 2.1 §4.1.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: None,
    judge: verifier_checked,
};

/// `authz.challenge-not-verifier`.
pub const CHALLENGE_NOT_VERIFIER: Check = Check {
    id: CheckId::AuthzChallengeNotVerifier,
    title: "A code exchanged with its S256 code_challenge as the code_verifier is refused with invalid_grant",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc7636#section-4.6",
        section: "RFC 7636 §4.6 (the server hashes the verifier and compares); OAuth 2.1 §4.1.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "The challenge travels in the front channel, where an attacker who intercepts the code can read it: an AS that also accepts the stored challenge itself as the verifier gives PKCE away.",
    ),
    judge: challenge_not_verifier,
};

/// `authz.code-bound-to-client`.
pub const CODE_BOUND_TO_CLIENT: Check = Check {
    id: CheckId::AuthzCodeBoundToClient,
    title: "A code issued to one client and presented by another (with the right verifier) is refused",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.3",
        section: "OAuth 2.1 §4.1.3 (\"ensure that the authorization code was issued to ... client_id in the request\")",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "A second client is registered by DCR; the code of a correct flow of the first is presented by the second with the right PKCE verifier, so only the client binding can refuse it. Skipped without DCR.",
    ),
    judge: code_bound_to_client,
};

/// `authz.code-bound-to-redirect`.
pub const CODE_BOUND_TO_REDIRECT: Check = Check {
    id: CheckId::AuthzCodeBoundToRedirect,
    title: "A code exchanged with a redirect_uri other than the one it was issued for is refused",
    level: Level::Should,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-10.2",
        section: "OAuth 2.1 §10.2; RFC 6749 §4.1.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "OAuth 2.1 dropped redirect_uri from the token request (PKCE prevents code injection), and §10.2 makes enforcing it a MUST only for an AS that also serves OAuth 2.0 clients, which it may tell apart by client_id; RFC 6749 §4.1.3 requires the values be identical. So judged a SHOULD: a sent redirect_uri that differs is held against the request. Tried with the right verifier and the client's redirect URI on another path.",
    ),
    judge: code_bound_to_redirect,
};

/// `authz.refresh-bound-to-client`.
pub const REFRESH_BOUND_TO_CLIENT: Check = Check {
    id: CheckId::AuthzRefreshBoundToClient,
    title: "A refresh token issued to one client and presented by another is refused",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.3.1",
        section: "OAuth 2.1 §4.3.1 (\"ensure the refresh token was issued to the matching client\")",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "A pair of its own (the main pair is judged elsewhere), its refresh token presented by the second DCR client. Skipped without DCR, or when no refresh token is issued.",
    ),
    judge: refresh_bound_to_client,
};

/// `authz.refresh-no-wider-scope`.
pub const REFRESH_NO_WIDER_SCOPE: Check = Check {
    id: CheckId::AuthzRefreshNoWiderScope,
    title: "A refresh asking for a scope the grant never had does not get it",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/rfc6749#section-6",
        section: "RFC 6749 §6 (\"MUST NOT include any scope not originally granted\"), §5.2 invalid_scope",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "A pair of its own, refreshed asking for its granted scope and one more (the first scope the metadata offers that it lacks, else a made-up one). The token must not carry it: refused (invalid_scope, which RFC 6749 §5.2 names for a scope that exceeds the grant) or issued without it both pass; an answer with no scope at all is a warning, since RFC 6749 §5.1 reads it as the scope requested. Skipped when no refresh token is issued.",
    ),
    judge: refresh_no_wider_scope,
};

/// `authz.code-single-use`.
pub const CODE_SINGLE_USE: Check = Check {
    id: CheckId::AuthzCodeSingleUse,
    title: "An authorization code redeemed once is refused the second time",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.2",
        section: "OAuth 2.1 §4.1.2 (code); RFC 6749 §4.1.2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "\"If an authorization code is used more than once, the authorization server MUST deny the request.\" Judged on a flow of its own, since the AS SHOULD then revoke the tokens of that code.",
    ),
    judge: code_single_use,
};

/// `authz.redirect-unregistered-refused`.
pub const REDIRECT_UNREGISTERED_REFUSED: Check = Check {
    id: CheckId::AuthzRedirectUnregisteredRefused,
    title: "A redirect_uri the client never registered is never redirected to",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.2.1",
        section: "OAuth 2.1 §4.1.2.1, §2.3.1; RFC 9700 §4.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "For a redirect URI that does not match a registered one exactly, the AS SHOULD inform the resource owner and MUST NOT automatically redirect to it, not even with an error. Tried with the DCR client and http://127.0.0.1/unregistered-callback.",
    ),
    judge: redirect_unregistered_refused,
};

/// `authz.redirect-exact-match`.
pub const REDIRECT_EXACT_MATCH: Check = Check {
    id: CheckId::AuthzRedirectExactMatch,
    title: "The registered redirect URI with a path or a character appended is never redirected to (exact matching, not prefix)",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization/security-considerations#open-redirection",
        section: "MCP Authorization, Security Considerations, Open Redirection (\"MUST validate exact redirect URIs\"); OAuth 2.1 §4.1.2.1; RFC 9700 §2.1",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "Tried with the client the flows ran as: its redirect URI followed by /extra, and by x. An AS matching by prefix sends the code to whatever lives below or beside the registered path.",
    ),
    judge: redirect_exact_match,
};

/// `authz.token-no-store`.
pub const TOKEN_NO_STORE: Check = Check {
    id: CheckId::AuthzTokenNoStore,
    title: "Token responses carry Cache-Control: no-store",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-3.2.3",
        section: "OAuth 2.1 §3.2.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "\"The authorization server MUST include the HTTP Cache-Control response header field with a value of no-store in any response containing tokens.\" Judged on every token response that carried tokens.",
    ),
    judge: token_no_store,
};

/// `authz.token-json`.
pub const TOKEN_JSON: Check = Check {
    id: CheckId::AuthzTokenJson,
    title: "Token responses are application/json",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-3.2.3",
        section: "OAuth 2.1 §3.2.3",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "The parameters of a successful token response are sent in the body as application/json. Judged on every token response that carried tokens.",
    ),
    judge: token_json,
};

/// `authz.token-type-bearer`.
pub const TOKEN_TYPE_BEARER: Check = Check {
    id: CheckId::AuthzTokenTypeBearer,
    title: "Token responses say token_type Bearer",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-3.2.3",
        section: "OAuth 2.1 §3.2.3 (token_type REQUIRED); MCP Authorization, Token Requirements (Bearer tokens in the Authorization header)",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "token_type is required in every successful token response, and MCP clients send Bearer tokens, so anything else (or nothing) leaves a client that follows the response unable to use the token. Compared case-insensitively (RFC 6749 §5.1). Judged on every token response that carried tokens.",
    ),
    judge: token_type_bearer,
};

/// `authz.foreign-resource-refused`.
pub const FOREIGN_RESOURCE_REFUSED: Check = Check {
    id: CheckId::AuthzForeignResourceRefused,
    title: "A token requested for another resource does not work on this server",
    level: Level::Must,
    citation: Citation {
        url: "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
        section: "MCP Authorization, Token Handling and Access Token Privilege Restriction; RFC 8707 §2",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "Passes when the AS refuses the other resource (invalid_target) or the MCP server refuses the token it issued; fails when the server accepts a token whose aud names the other resource (the token-passthrough ban). An AS may ignore resource (RFC 8707 is its option) and issue a token for this server: accepting that is right, so the check is skipped; an opaque token's audience cannot be read, so accepting it is a warning.",
    ),
    judge: foreign_resource_refused,
};

/// `authz.refresh-rotated`.
pub const REFRESH_ROTATED: Check = Check {
    id: CheckId::AuthzRefreshRotated,
    title: "A used refresh token cannot be used again (rotation for public clients)",
    level: Level::Must,
    citation: Citation {
        url: "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.3.1",
        section: "OAuth 2.1 §4.3.1; MCP Authorization, Refresh Tokens",
    },
    revisions: BOTH,
    depends_on: &[CheckId::AuthzCodeFlow],
    note: Some(
        "OAuth 2.1: for public clients, refresh tokens MUST be sender-constrained or rotated. Skipped when no refresh token is issued.",
    ),
    judge: refresh_rotated,
};

/// The flows, or why none ran.
fn flows(o: &Observations) -> Result<&FlowObservations, Finding> {
    let f = o.flows.as_ref().ok_or_else(|| {
        skip("the authorization server metadata names no usable authorization and token endpoints")
    })?;
    match &f.unavailable {
        Some(why) => Err(skip(why.clone())),
        None => Ok(f),
    }
}

/// An attempt of the flows, or a skip when it was not made.
fn attempt(a: &Option<Attempt>) -> Result<&Attempt, Finding> {
    a.as_ref().ok_or_else(|| skip("not attempted"))
}

fn evidence(a: &Attempt) -> Vec<Exchange> {
    let mut e = a.navigation.hops.clone();
    e.extend(a.token.iter().map(|t| t.exchange.clone()));
    e
}

/// Runs `judge` on the flows, or says why it cannot.
fn with_flows(
    o: &Observations,
    judge: impl FnOnce(&FlowObservations) -> Result<Finding, Finding>,
) -> Finding {
    flows(o).and_then(judge).unwrap_or_else(|skipped| skipped)
}

/// The main flow's authorization response, once the code flow passed.
fn main_response(f: &FlowObservations) -> Result<(&Attempt, &AuthorizationResponse), Finding> {
    let main = attempt(&f.main)?;
    let response = main
        .navigation
        .response()
        .ok_or_else(|| skip("the code flow did not reach the client (see authz.code-flow)"))?;
    Ok((main, response))
}

fn code_flow(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let main = attempt(&f.main)?;
        let origin = f.client_origin.unwrap_or("the tester's client");
        let refused = || {
            fail(
                format!(
                    "{} to a correct request from {origin}",
                    main.navigation.describe()
                ),
                evidence(main),
            )
        };
        Ok(match (&main.navigation.landing, &main.token) {
            (Landing::NeedsCredentials | Landing::Stuck(_), _) => unfinished(&main.navigation),
            (Landing::Refused, _) => refused(),
            (_, Some(t)) if t.tokens.is_some() => pass(
                format!("signed in as {origin}: a code, then an access token"),
                evidence(main),
            ),
            (_, Some(t)) => fail(
                format!("the token endpoint refused the code: {}", refusal_said(t)),
                evidence(main),
            ),
            _ => refused(),
        })
    })
}

fn state_returned(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let (main, response) = main_response(f)?;
        Ok(match response.get("state") {
            Some(s) if s == main.state => pass("state came back unchanged", evidence(main)),
            Some(_) => fail("state came back changed", evidence(main)),
            None => fail("no state in the authorization response", evidence(main)),
        })
    })
}

fn iss_in_response(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let (main, response) = main_response(f)?;
        Ok(judge_iss(o, response.get("iss"), evidence(main)))
    })
}

fn iss_in_error_response(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let a = attempt(&f.no_pkce)?;
        Ok(match &a.navigation.landing {
            Landing::Callback(r) if r.error().is_some() => judge_iss(o, r.get("iss"), evidence(a)),
            Landing::Callback(_) => {
                skip("the request without PKCE got no error response (see authz.pkce-required)")
            }
            Landing::Refused => skip(
                "the AS showed an error page rather than sending an error to the client: no response to judge",
            ),
            Landing::NeedsCredentials | Landing::Stuck(_) => unfinished(&a.navigation),
        })
    })
}

fn pkce_required(o: &Observations) -> Finding {
    with_flows(o, |f| {
        Ok(refusal(
            attempt(&f.no_pkce)?,
            "a request without code_challenge",
        ))
    })
}

fn pkce_plain_refused(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let finding = refusal(
            attempt(&f.plain_pkce)?,
            "a request with code_challenge_method=plain",
        );
        let offered = o
            .as_field("code_challenge_methods_supported")
            .and_then(|v| v.as_array())
            .is_some_and(|m| m.iter().any(|x| x == "plain"));
        Ok(if finding.outcome == super::Outcome::Fail && offered {
            warn(
                "plain is offered and accepted: consistent, but MCP clients use S256 only",
                finding.evidence,
            )
        } else {
            finding
        })
    })
}

fn verifier_checked(o: &Observations) -> Finding {
    with_flows(o, |f| {
        redemption_refused(
            attempt(&f.wrong_verifier)?,
            "the code was exchanged for a token with the wrong code_verifier",
        )
    })
}

fn code_bound_to_redirect(o: &Observations) -> Finding {
    with_flows(o, |f| {
        redemption_refused(
            attempt(&f.code_other_redirect)?,
            "the code was exchanged for a token with a redirect_uri it was not issued for",
        )
    })
}

fn refresh_bound_to_client(o: &Observations) -> Finding {
    with_flows(o, |f| match &f.refresh_by_other_client {
        None => Err(skip("not attempted")),
        Some(Err(why)) => Err(skip(why.clone())),
        Some(Ok((own, presented))) => {
            let Some(t) = presented else {
                return Err(skip("the flow issued no refresh token"));
            };
            let mut ev = evidence(own);
            ev.push(t.exchange.clone());
            Ok(match token_answer(t) {
                AsAnswer::WentOn(_) => fail(
                    "another client refreshed the first client's refresh token (it is not bound to its client)",
                    ev,
                ),
                AsAnswer::Refused(said, error) => refused_with(said, error, "invalid_grant", ev),
                AsAnswer::Fault(said) => fail(said, ev),
                AsAnswer::Unclear(finding) => finding,
            })
        }
    })
}

/// A token request refused as it must be: a pass with the code RFC 6749 §5.2 names for it,
/// a warning with another.
fn refused_with(said: String, error: Option<String>, named: &str, ev: Vec<Exchange>) -> Finding {
    if error.as_deref() == Some(named) {
        pass(format!("refused: {said}"), ev)
    } else {
        warn(
            format!("refused, with {said} (RFC 6749 §5.2 names {named})"),
            ev,
        )
    }
}

fn refresh_no_wider_scope(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let Some((own, asked, answer)) = &f.refresh_wider else {
            return Err(skip("not attempted"));
        };
        let Some(t) = answer else {
            return Err(skip("the flow issued no refresh token"));
        };
        let extra = asked.rsplit(' ').next().unwrap_or_default();
        let mut ev = evidence(own);
        ev.push(t.exchange.clone());
        Ok(match token_answer(t) {
            AsAnswer::WentOn(_) => match issued_scope(t).map(|s| cut(&s)) {
                Some(issued) if issued.split(' ').any(|s| s == extra) => fail(
                    format!(
                        "a refresh asking for \"{asked}\" was issued \"{issued}\": {extra} was never granted"
                    ),
                    ev,
                ),
                Some(issued) => pass(
                    format!("the scope never granted was left out: issued \"{issued}\""),
                    ev,
                ),
                None => warn(
                    format!(
                        "a refresh asking for \"{asked}\" was issued a token that says no scope; RFC 6749 §5.1 reads that as the scope requested, {extra} included"
                    ),
                    ev,
                ),
            },
            AsAnswer::Refused(said, error) => refused_with(said, error, "invalid_scope", ev),
            AsAnswer::Fault(said) => fail(said, ev),
            AsAnswer::Unclear(finding) => finding,
        })
    })
}

/// The server's text as a reason quotes it: at most 200 characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The scope a token answer says it carries: the answer's `scope`, else the access token's
/// own `scope` (or `scp`) claim when it is a JWT.
fn issued_scope(t: &TokenAnswer) -> Option<String> {
    let tokens = t.tokens.as_ref()?;
    if let Some(scope) = &tokens.scope {
        return Some(scope.clone());
    }
    let claims = crate::client::token::unverified_claims(&tokens.access_token)?;
    match claims.get("scope").or_else(|| claims.get("scp"))? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

fn code_bound_to_client(o: &Observations) -> Finding {
    with_flows(o, |f| match &f.code_by_other_client {
        None => Err(skip("not attempted")),
        Some(Err(why)) => Err(skip(why.clone())),
        Some(Ok(a)) => redemption_refused(
            a,
            "another client exchanged the code for a token (the code is not bound to its client)",
        ),
    })
}

fn challenge_not_verifier(o: &Observations) -> Finding {
    with_flows(o, |f| {
        redemption_refused(
            attempt(&f.challenge_as_verifier)?,
            "the code was exchanged for a token with its S256 code_challenge as the code_verifier",
        )
    })
}

/// A token request the AS must refuse (a verifier that does not hash to the challenge, another
/// client's code): refused with `invalid_grant` (RFC 7636 §4.6, OAuth 2.1 §4.1.3), or
/// `accepted` says how it got through.
fn redemption_refused(a: &Attempt, accepted: &str) -> Result<Finding, Finding> {
    let Some(t) = &a.token else {
        return Ok(match &a.navigation.landing {
            Landing::NeedsCredentials | Landing::Stuck(_) => unfinished(&a.navigation),
            _ => skip(format!("no code to exchange: {}", a.navigation.describe())),
        });
    };
    Ok(match token_answer(t) {
        AsAnswer::WentOn(_) => fail(accepted, evidence(a)),
        AsAnswer::Refused(said, Some(e)) if e == "invalid_grant" => {
            pass(format!("refused: {said}"), evidence(a))
        }
        AsAnswer::Refused(_, other) => warn(
            format!(
                "refused, with HTTP {} and error={} (invalid_grant is the code for it: RFC 6749 §5.2, RFC 7636 §4.6)",
                status(&t.exchange),
                other.as_deref().unwrap_or("none")
            ),
            evidence(a),
        ),
        AsAnswer::Fault(said) => fail(said, evidence(a)),
        AsAnswer::Unclear(finding) => finding,
    })
}

fn code_single_use(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let (a, again) = f
            .code_replay
            .as_ref()
            .ok_or_else(|| skip("not attempted"))?;
        let Some(again) = again else {
            return Ok(skip(format!(
                "the flow of its own did not yield tokens to start from: {}",
                a.token
                    .as_ref()
                    .map_or_else(|| a.navigation.describe(), refusal_said)
            )));
        };
        let mut ev = evidence(a);
        ev.push(again.exchange.clone());
        Ok(match token_answer(again) {
            AsAnswer::WentOn(_) => {
                fail("a code already redeemed was exchanged again for tokens", ev)
            }
            AsAnswer::Refused(said, Some(e)) if e == "invalid_grant" => {
                pass(format!("the second redemption was refused: {said}"), ev)
            }
            AsAnswer::Refused(said, _) => warn(
                format!(
                    "the second redemption was refused, with {said} (RFC 6749 §5.2 names invalid_grant)"
                ),
                ev,
            ),
            AsAnswer::Fault(said) => fail(said, ev),
            AsAnswer::Unclear(finding) => finding,
        })
    })
}

fn redirect_unregistered_refused(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let n = f
            .unregistered_redirect
            .as_ref()
            .ok_or_else(|| skip("not attempted"))?;
        Ok(never_redirected(
            n,
            "a redirect URI the client never registered",
        ))
    })
}

fn redirect_exact_match(o: &Observations) -> Finding {
    with_flows(o, |f| {
        if f.extended_redirects.is_empty() {
            return Err(skip("not attempted"));
        }
        let findings: Vec<Finding> = f
            .extended_redirects
            .iter()
            .map(|n| never_redirected(n, "the registered redirect URI with something appended"))
            .collect();
        let evidence: Vec<Exchange> = f
            .extended_redirects
            .iter()
            .flat_map(|n| n.hops.iter().cloned())
            .collect();
        Ok(all_of(
            findings,
            evidence,
            "refused without redirecting, with /extra and with x appended",
        ))
    })
}

/// An authorization request for `what` (a redirect URI the client may not use): refused
/// without redirecting there.
fn never_redirected(n: &crate::client::browser::Navigation, what: &str) -> Finding {
    let ev = n.hops.clone();
    match &n.landing {
        Landing::Callback(_) => fail(
            format!(
                "the AS redirected to {what} ({})",
                n.describe().trim_start_matches("the AS ")
            ),
            ev,
        ),
        Landing::Refused => match navigation_answer(n) {
            AsAnswer::Fault(said) => fail(said, ev),
            _ => pass(format!("refused without redirecting: {}", n.describe()), ev),
        },
        Landing::NeedsCredentials | Landing::Stuck(_) => unfinished(n),
    }
}

/// Every token response that carried tokens, with what it was for.
fn token_responses(f: &FlowObservations) -> Vec<&TokenAnswer> {
    let attempts = [&f.main, &f.wrong_verifier, &f.foreign];
    let mut all: Vec<&TokenAnswer> = attempts
        .into_iter()
        .flatten()
        .filter_map(|a| a.token.as_ref())
        .collect();
    if let Some((a, again)) = &f.code_replay {
        all.extend(a.token.iter().chain(again.iter()));
    }
    if let Some((first, again)) = &f.refresh {
        all.push(first);
        all.extend(again.iter());
    }
    all.extend(f.client_credentials.iter());
    all.retain(|t| t.tokens.is_some());
    all
}

/// Every token response that carried tokens must satisfy `holds`; `what` says what it lacked.
fn every_token_response(
    o: &Observations,
    holds: impl Fn(&TokenAnswer) -> bool,
    what: &str,
    seen: impl Fn(&TokenAnswer) -> String,
) -> Finding {
    with_flows(o, |f| {
        let all = token_responses(f);
        if all.is_empty() {
            return Ok(skip("no token response carried tokens"));
        }
        let lacking: Vec<&TokenAnswer> = all.iter().copied().filter(|t| !holds(t)).collect();
        Ok(match lacking.first() {
            None => pass(
                format!("{} token response(s), each with {what}", all.len()),
                all.iter().map(|t| t.exchange.clone()).collect(),
            ),
            Some(first) => fail(
                format!(
                    "{} of {} token responses without {what} (the first: {})",
                    lacking.len(),
                    all.len(),
                    seen(first)
                ),
                lacking.iter().map(|t| t.exchange.clone()).collect(),
            ),
        })
    })
}

fn token_no_store(o: &Observations) -> Finding {
    every_token_response(
        o,
        |t| {
            t.exchange.cache_control.as_deref().is_some_and(|c| {
                c.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
            })
        },
        "Cache-Control: no-store",
        |t| match &t.exchange.cache_control {
            Some(c) => format!("Cache-Control: {c}"),
            None => "no Cache-Control".into(),
        },
    )
}

fn token_json(o: &Observations) -> Finding {
    every_token_response(
        o,
        |t| is_json(t.exchange.content_type.as_deref()),
        "an application/json body",
        |t| {
            format!(
                "{:?}",
                t.exchange
                    .content_type
                    .as_deref()
                    .unwrap_or("no content type")
            )
        },
    )
}

fn token_type_bearer(o: &Observations) -> Finding {
    let token_type = |t: &TokenAnswer| t.tokens.as_ref().and_then(|t| t.token_type.clone());
    every_token_response(
        o,
        // RFC 6749 §5.1: the value is case-insensitive.
        |t| token_type(t).is_some_and(|v| v.eq_ignore_ascii_case("Bearer")),
        "token_type Bearer",
        |t| match token_type(t) {
            Some(v) => format!("token_type {v:?}"),
            None => "no token_type".into(),
        },
    )
}

fn foreign_resource_refused(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let a = attempt(&f.foreign)?;
        let mut ev = evidence(a);
        ev.extend(o.tokens.foreign_resource.iter().cloned());
        let said_for = |said: String| format!("{said} for another resource");
        Ok(match navigation_answer(&a.navigation) {
            AsAnswer::Refused(said, _) => pass(said_for(said), ev),
            AsAnswer::Fault(said) => fail(said_for(said), ev),
            AsAnswer::Unclear(finding) => finding,
            AsAnswer::WentOn(said) => match a.token.as_ref().map(token_answer) {
                None => skip(said),
                Some(AsAnswer::Refused(said, Some(e))) if e == "invalid_target" => pass(
                    format!("the token endpoint refused another resource: {said}"),
                    ev,
                ),
                Some(AsAnswer::Refused(said, _)) => warn(
                    format!(
                        "the token endpoint refused another resource, with {said} (RFC 8707 §2 names invalid_target)"
                    ),
                    ev,
                ),
                Some(AsAnswer::Fault(said)) => fail(said_for(said), ev),
                Some(AsAnswer::Unclear(finding)) => finding,
                Some(AsAnswer::WentOn(_)) => match &o.tokens.foreign_resource {
                    None => skip("the token for another resource was not tried"),
                    Some(e) => {
                        let what = "a token issued for another resource";
                        match resource_answer(e, what, o.tokens.valid_token_accepted(), ev.clone())
                        {
                            ResourceAnswer::Refused(s) => {
                                pass(format!("{what} was answered {s}"), ev)
                            }
                            ResourceAnswer::Accepted(s) => accepted_foreign(o, a, s, ev),
                            ResourceAnswer::NotJudged(finding) => finding,
                        }
                    }
                },
            },
        })
    })
}

/// The server accepted the token the AS issued when asked for another resource: judged by
/// the audience the token was issued for. An AS without RFC 8707 support may ignore `resource`
/// and issue a token for this server (the MCP spec binds audiences "when the Authorization
/// Server supports the capability"), and then accepting it is right.
fn accepted_foreign(o: &Observations, a: &Attempt, status: u16, ev: Vec<Exchange>) -> Finding {
    let token = a
        .token
        .as_ref()
        .and_then(|t| t.tokens.as_ref())
        .map(|t| t.access_token.as_str());
    let audience = token.and_then(issued_audience);
    let target = o.target.as_str();
    let names = |aud: &[String], resource: &str| {
        aud.iter()
            .any(|a| a.trim_end_matches('/') == resource.trim_end_matches('/'))
    };
    match audience {
        Some(aud) if names(&aud, FOREIGN_RESOURCE) => fail(
            format!(
                "the server accepted a token issued for another resource (aud {}; HTTP {status})",
                aud.join(", ")
            ),
            ev,
        ),
        Some(aud) if names(&aud, target) => skip(format!(
            "asked for {FOREIGN_RESOURCE}, the AS issued a token for this server itself (aud {}): it does not bind audiences to the resource asked for (RFC 8707 is its option), so accepting it is right and the ban on foreign tokens could not be judged",
            aud.join(", ")
        )),
        _ => warn(
            format!(
                "the server accepted (HTTP {status}) the token the AS issued when asked for another resource, and its audience cannot be read (opaque, or no aud): whether it was bound to that resource is unknown"
            ),
            ev,
        ),
    }
}

/// A JWT's `aud` claim, as a list.
fn issued_audience(token: &str) -> Option<Vec<String>> {
    let claims = crate::client::token::unverified_claims(token)?;
    match &claims["aud"] {
        serde_json::Value::String(aud) => Some(vec![aud.clone()]),
        serde_json::Value::Array(list) => Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

fn refresh_rotated(o: &Observations) -> Finding {
    with_flows(o, |f| {
        let Some((first, replay)) = &f.refresh else {
            return Ok(skip("no refresh token was issued"));
        };
        let mut ev = vec![first.exchange.clone()];
        ev.extend(replay.iter().map(|r| r.exchange.clone()));
        Ok(match replay.as_ref().map(token_answer) {
            None => warn(
                format!(
                    "the refresh token did not work even once: HTTP {}",
                    status(&first.exchange)
                ),
                ev,
            ),
            // A retry window (Okta, Auth0, the bundled façade): the replaced token gets the
            // one rotation's answer again. Nothing new is issued, so the two holders share one
            // chain and the next rotation still tells a reuse (RFC 9700 §4.14.2's purpose).
            Some(AsAnswer::WentOn(_)) if f.refresh_rotated && same_tokens(first, replay) => pass(
                "a retry of the used token got the same tokens again: nothing new was issued",
                ev,
            ),
            Some(AsAnswer::WentOn(_)) => fail("a used refresh token worked a second time", ev),
            Some(AsAnswer::Refused(said, _)) => {
                pass(format!("the used refresh token was refused: {said}"), ev)
            }
            Some(AsAnswer::Fault(said)) => fail(said, ev),
            Some(AsAnswer::Unclear(finding)) => finding,
        })
    })
}

/// Whether a replay answered exactly the tokens the first refresh did.
fn same_tokens(first: &TokenAnswer, replay: &Option<TokenAnswer>) -> bool {
    let (Some(a), Some(b)) = (
        &first.tokens,
        replay.as_ref().and_then(|r| r.tokens.as_ref()),
    ) else {
        return false;
    };
    a.access_token == b.access_token && a.refresh_token == b.refresh_token
}

/// RFC 9207 with the MCP 2026-07-28 table: a present `iss` equals the issuer exactly; an
/// advertised one is present.
fn judge_iss(o: &Observations, iss: Option<&str>, evidence: Vec<Exchange>) -> Finding {
    let issuer = o.as_field("issuer").and_then(|v| v.as_str());
    let advertised = o.as_flag("authorization_response_iss_parameter_supported");
    match (iss, issuer) {
        (Some(i), Some(expected)) if i == expected => pass("iss equals the issuer", evidence),
        (Some(i), _) => fail(format!("iss is {i:?}, not the metadata's issuer"), evidence),
        (None, _) if advertised => fail(
            "no iss, though the metadata advertises authorization_response_iss_parameter_supported",
            evidence,
        ),
        (None, _) => {
            skip("iss is neither advertised nor sent (as.iss-parameter judges the SHOULD)")
        }
    }
}

/// A request the AS must turn down: refused passes; a code, or a fault, fails.
fn refusal(a: &Attempt, what: &str) -> Finding {
    match navigation_answer(&a.navigation) {
        AsAnswer::Refused(said, _) => pass(format!("refused: {said}"), evidence(a)),
        AsAnswer::WentOn(said) | AsAnswer::Fault(said) => {
            fail(format!("{said} for {what}"), evidence(a))
        }
        AsAnswer::Unclear(finding) => finding,
    }
}
