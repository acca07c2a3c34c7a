//! Judgements of the authorization flows: the code flow itself, PKCE, `state`, RFC 9207 `iss`,
//! RFC 8707 resource binding, refresh rotation, and Client ID Metadata Documents.

use super::{Finding, Outcome, fail, pass, skip};
use crate::{
    client::{
        browser::{Landing, Navigation},
        token::TokenAnswer,
    },
    observe::{
        Observations,
        flow::{Attempt, FlowObservations},
    },
    probe::Exchange,
};

fn warn(reason: impl Into<String>, evidence: Vec<Exchange>) -> Finding {
    Finding {
        outcome: Outcome::Warn,
        reason: reason.into(),
        evidence,
    }
}

fn flows(o: &Observations) -> Result<&FlowObservations, Finding> {
    let f = o.flows.as_ref().ok_or_else(|| {
        skip("the authorization server metadata names no usable authorization and token endpoints")
    })?;
    match &f.unavailable {
        Some(why) => Err(skip(why.clone())),
        None => Ok(f),
    }
}

fn evidence(a: &Attempt) -> Vec<Exchange> {
    let mut e = a.navigation.hops.clone();
    e.extend(a.token.iter().map(|t| t.exchange.clone()));
    e
}

/// A skip for a navigation that neither reached the client nor was refused.
fn unfinished(n: &Navigation) -> Option<Finding> {
    match &n.landing {
        Landing::NeedsCredentials => Some(skip(
            "the sign-in asks for credentials: give --login form with --username and --password",
        )),
        Landing::Stuck(_) => Some(skip(n.describe())),
        _ => None,
    }
}

/// Judges an `authz.*` or `cimd.*` check.
pub fn evaluate(id: &str, o: &Observations) -> Finding {
    let issuer = o.as_field("issuer").and_then(|v| v.as_str());
    let iss_advertised = o.as_flag("authorization_response_iss_parameter_supported");
    if let Some(cimd) = id.strip_prefix("cimd.") {
        return cimd_check(cimd, o);
    }
    let f = match flows(o) {
        Ok(f) => f,
        Err(finding) => return finding,
    };
    let main = f.main.as_ref().expect("observed with the client");
    match id {
        "authz.code-flow" => {
            if let Some(s) = unfinished(&main.navigation) {
                return s;
            }
            let origin = f.client_origin.unwrap_or("the tester's client");
            match (&main.navigation.landing, &main.token) {
                (Landing::Refused, _) => fail(
                    format!(
                        "{} to a correct request from {origin}",
                        main.navigation.describe()
                    ),
                    evidence(main),
                ),
                (_, Some(t)) if t.tokens.is_some() => pass(
                    format!("signed in as {origin}: a code, then an access token"),
                    evidence(main),
                ),
                (_, Some(t)) => fail(
                    format!("the token endpoint refused the code: {}", refusal_said(t)),
                    evidence(main),
                ),
                _ => fail(
                    format!(
                        "{} to a correct request from {origin}",
                        main.navigation.describe()
                    ),
                    evidence(main),
                ),
            }
        }
        "authz.state-returned" => {
            let response = main.navigation.response().expect("the code flow passed");
            match response.get("state") {
                Some(s) if s == main.state => pass("state came back unchanged", evidence(main)),
                Some(_) => fail("state came back changed", evidence(main)),
                None => fail("no state in the authorization response", evidence(main)),
            }
        }
        "authz.iss-in-response" => {
            let response = main.navigation.response().expect("the code flow passed");
            judge_iss(response.get("iss"), issuer, iss_advertised, evidence(main))
        }
        "authz.iss-in-error-response" => {
            let a = f.no_pkce.as_ref().expect("observed");
            match &a.navigation.landing {
                Landing::Callback(r) if r.error().is_some() => {
                    judge_iss(r.get("iss"), issuer, iss_advertised, evidence(a))
                }
                Landing::Callback(_) => {
                    skip("the request without PKCE got no error response (see authz.pkce-required)")
                }
                Landing::Refused => skip(
                    "the AS showed an error page rather than sending an error to the client: no response to judge",
                ),
                _ => unfinished(&a.navigation).expect("not a callback or refusal"),
            }
        }
        "authz.pkce-required" => {
            let a = f.no_pkce.as_ref().expect("observed");
            refusal(a, "a request without code_challenge")
        }
        "authz.pkce-plain-refused" => {
            let a = f.plain_pkce.as_ref().expect("observed");
            let finding = refusal(a, "a request with code_challenge_method=plain");
            let offered = o
                .as_field("code_challenge_methods_supported")
                .and_then(|v| v.as_array())
                .is_some_and(|m| m.iter().any(|x| x == "plain"));
            if finding.outcome == Outcome::Fail && offered {
                warn(
                    "plain is offered and accepted: consistent, but MCP clients use S256 only",
                    finding.evidence,
                )
            } else {
                finding
            }
        }
        "authz.verifier-checked" => {
            let a = f.wrong_verifier.as_ref().expect("observed");
            let Some(t) = &a.token else {
                return unfinished(&a.navigation).unwrap_or_else(|| {
                    skip(format!("no code to exchange: {}", a.navigation.describe()))
                });
            };
            match (t.tokens.is_some(), t.error.as_deref()) {
                (true, _) => fail(
                    "the code was exchanged for a token with the wrong code_verifier",
                    evidence(a),
                ),
                (false, Some("invalid_grant")) => pass(
                    format!("refused: HTTP {}, error=invalid_grant", status(&t.exchange)),
                    evidence(a),
                ),
                (false, other) => warn(
                    format!(
                        "refused, with HTTP {} and error={} (RFC 7636 §4.6 names invalid_grant)",
                        status(&t.exchange),
                        other.unwrap_or("none")
                    ),
                    evidence(a),
                ),
            }
        }
        "authz.foreign-resource-refused" => {
            let (a, used) = f.foreign.as_ref().expect("observed");
            let mut ev = evidence(a);
            ev.extend(used.iter().cloned());
            if a.navigation.refused() {
                return pass(
                    format!("{} for another resource", a.navigation.describe()),
                    ev,
                );
            }
            if let Some(s) = unfinished(&a.navigation) {
                return s;
            }
            match (&a.token, used) {
                (Some(t), None) => pass(
                    format!(
                        "the token endpoint refused another resource: {}",
                        refusal_said(t)
                    ),
                    ev,
                ),
                (_, Some(e)) => match e.status {
                    Some(s) if (200..300).contains(&s) => fail(
                        format!(
                            "the server accepted a token issued for another resource (HTTP {s})"
                        ),
                        ev,
                    ),
                    Some(s) => pass(
                        format!("a token issued for another resource was answered {s}"),
                        ev,
                    ),
                    None => fail("no answer to the MCP request", ev),
                },
                (None, None) => skip(a.navigation.describe()),
            }
        }
        "authz.refresh-rotated" => match &f.refresh {
            None => skip("no refresh token was issued"),
            Some((first, replay)) => {
                let mut ev = vec![first.exchange.clone()];
                ev.extend(replay.iter().map(|r| r.exchange.clone()));
                match replay {
                    None => warn(
                        format!(
                            "the refresh token did not work even once: HTTP {}",
                            status(&first.exchange)
                        ),
                        ev,
                    ),
                    Some(r) if r.tokens.is_some() => {
                        fail("a used refresh token worked a second time", ev)
                    }
                    Some(r) => pass(
                        format!("the used refresh token was refused: {}", refusal_said(r)),
                        ev,
                    ),
                }
            }
        },
        other => skip(format!("no evaluation for {other}")),
    }
}

/// How the token endpoint refused: "HTTP 400, error=invalid_grant".
fn refusal_said(t: &TokenAnswer) -> String {
    match &t.error {
        Some(e) => format!("HTTP {}, error={e}", status(&t.exchange)),
        None => format!("HTTP {}", status(&t.exchange)),
    }
}

fn status(e: &Exchange) -> String {
    e.status.map_or_else(|| "none".into(), |s| s.to_string())
}

/// RFC 9207 with the MCP 2026-07-28 table: a present `iss` equals the issuer exactly; an
/// advertised one is present.
fn judge_iss(
    iss: Option<&str>,
    issuer: Option<&str>,
    advertised: bool,
    evidence: Vec<Exchange>,
) -> Finding {
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

/// A request the AS must turn down: refused passes, a code fails, anything else skips.
fn refusal(a: &Attempt, what: &str) -> Finding {
    let n = &a.navigation;
    if n.refused() {
        return pass(format!("refused: {}", n.describe()), evidence(a));
    }
    if n.issued_code() {
        return fail(format!("{} for {what}", n.describe()), evidence(a));
    }
    unfinished(n).unwrap_or_else(|| fail(format!("{} for {what}", n.describe()), evidence(a)))
}

fn cimd_check(rule: &str, o: &Observations) -> Finding {
    let attempts = match o.flows.as_ref().map(|f| &f.cimd) {
        None => {
            return skip(
                "the authorization server metadata names no usable authorization and token endpoints",
            );
        }
        Some(Err(why)) => return skip(why.clone()),
        Some(Ok(a)) => a,
    };
    let went_on = |n: &Navigation| n.issued_code() || (n.saw_form && !n.refused());
    match rule {
        "accepted" => {
            let n = &attempts.accepted;
            if went_on(n) {
                pass(
                    if n.issued_code() {
                        "the AS fetched the document and issued a code".to_owned()
                    } else {
                        "the AS fetched the document and went on to consent or sign-in".to_owned()
                    },
                    n.hops.clone(),
                )
            } else if n.refused() {
                fail(
                    format!("{} to a client identified by its document", n.describe()),
                    n.hops.clone(),
                )
            } else {
                skip(n.describe())
            }
        }
        "client-id-mismatch-refused" | "redirect-unlisted-refused" => {
            let (n, what) = if rule == "client-id-mismatch-refused" {
                match &attempts.mismatched {
                    Ok(n) => (n, "a document whose client_id is not its URL"),
                    Err(why) => return skip(why.clone()),
                }
            } else {
                (
                    &attempts.unlisted,
                    "a redirect_uri the document does not list",
                )
            };
            if n.refused() {
                pass(format!("refused: {}", n.describe()), n.hops.clone())
            } else if went_on(n) {
                let how = if n.issued_code() {
                    n.describe()
                } else {
                    "the AS went on to consent or sign-in".to_owned()
                };
                fail(format!("{how} for {what}"), n.hops.clone())
            } else {
                skip(n.describe())
            }
        }
        other => skip(format!("no evaluation for cimd.{other}")),
    }
}
