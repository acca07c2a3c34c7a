//! The judgement of each check, as a pure function of what was observed.

use serde::Serialize;
use url::Url;

mod flow;

use crate::{
    observe::{Observations, mcp::Speaker},
    probe::Exchange,
};

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The rule holds.
    Pass,
    /// The rule is broken.
    Fail,
    /// Something is off without breaking the rule.
    Warn,
    /// Not judged (a dependency failed, the feature is absent, or it needs what was not given).
    Skip,
}

/// An outcome, why, and the exchanges that show it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The outcome.
    pub outcome: Outcome,
    /// Why, in a sentence.
    pub reason: String,
    /// The evidence.
    pub evidence: Vec<Exchange>,
}

fn pass(reason: impl Into<String>, evidence: Vec<Exchange>) -> Finding {
    Finding {
        outcome: Outcome::Pass,
        reason: reason.into(),
        evidence,
    }
}

fn fail(reason: impl Into<String>, evidence: Vec<Exchange>) -> Finding {
    Finding {
        outcome: Outcome::Fail,
        reason: reason.into(),
        evidence,
    }
}

fn skip(reason: impl Into<String>) -> Finding {
    Finding {
        outcome: Outcome::Skip,
        reason: reason.into(),
        evidence: Vec::new(),
    }
}

/// Judges the check `id`.
pub fn evaluate(id: &str, o: &Observations) -> Finding {
    let unauth = || vec![o.unauthenticated.clone()];
    let prm_evidence = || {
        o.prm
            .as_ref()
            .map(|(f, _)| vec![o.prm_attempts[f.exchange].clone()])
            .unwrap_or_default()
    };
    let as_evidence = || {
        o.as_metadata
            .as_ref()
            .map(|f| vec![o.as_attempts[f.exchange].clone()])
            .unwrap_or_default()
    };
    let prm_json = || o.prm.as_ref().and_then(|(f, _)| f.json.as_ref());
    match id {
        "challenge.status-401" => match o.unauthenticated.status {
            Some(401) => pass("answered 401", unauth()),
            Some(s) => fail(
                format!("answered {s} to an MCP request without a token"),
                unauth(),
            ),
            None => fail("no answer", unauth()),
        },
        "challenge.bearer" => match &o.challenges {
            Err(e) => fail(
                format!("the WWW-Authenticate header is unusable: {e}"),
                unauth(),
            ),
            Ok(_) if o.bearer().is_none() => fail(
                "no Bearer challenge among the WWW-Authenticate challenges",
                unauth(),
            ),
            Ok(_) => pass("a Bearer challenge", unauth()),
        },
        "challenge.resource-metadata" => {
            match o.bearer().and_then(|c| c.param("resource_metadata")) {
                None => skip(
                    "not sent; the well-known URIs are the other allowed mechanism (see prm.discoverable)",
                ),
                Some(v) => match Url::parse(v) {
                    Ok(u) if matches!(u.scheme(), "https" | "http") => {
                        pass("an absolute URL", unauth())
                    }
                    _ => fail(
                        format!("resource_metadata {v:?} is not an absolute http(s) URL"),
                        unauth(),
                    ),
                },
            }
        }
        "challenge.scope" => match o.bearer().and_then(|c| c.param("scope")) {
            Some(s) if !s.trim().is_empty() => pass(format!("scope=\"{s}\""), unauth()),
            _ => fail("the challenge has no scope parameter", unauth()),
        },
        "prm.discoverable" => match &o.prm {
            Some((_, via)) => pass(format!("found through {}", via.describe()), prm_evidence()),
            None => {
                let tried: Vec<String> = o
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
                let how = if o
                    .bearer()
                    .and_then(|c| c.param("resource_metadata"))
                    .is_some()
                {
                    "the challenge's resource_metadata, which clients must use when present, did not answer 200"
                } else {
                    "neither well-known URI answered 200"
                };
                fail(
                    format!("{how}: tried {}", tried.join(", ")),
                    o.prm_attempts.clone(),
                )
            }
        },
        "prm.json-object" => {
            let (found, _) = o.prm.as_ref().expect("depends on prm.discoverable");
            let exchange = &o.prm_attempts[found.exchange];
            let json_type = exchange.content_type.as_deref().is_some_and(|t| {
                t.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            });
            match (&found.json, json_type) {
                (Some(_), true) => pass("a JSON object, application/json", prm_evidence()),
                (Some(_), false) => fail(
                    format!(
                        "a JSON object, but served as {:?}",
                        exchange
                            .content_type
                            .as_deref()
                            .unwrap_or("no content type")
                    ),
                    prm_evidence(),
                ),
                (None, _) => fail("the body is not a JSON object", prm_evidence()),
            }
        }
        "prm.resource-matches" => match prm_json()
            .and_then(|j| j.get("resource"))
            .and_then(|r| r.as_str())
        {
            None => fail("no resource member", prm_evidence()),
            Some(r) if same_resource(r, &o.target) => {
                pass("resource is the MCP server's URI", prm_evidence())
            }
            Some(r) => fail(
                format!("resource is {r:?}, not the MCP server's URI (the target)"),
                prm_evidence(),
            ),
        },
        "prm.authorization-servers" => {
            let servers = prm_json()
                .and_then(|j| j.get("authorization_servers"))
                .and_then(|a| a.as_array());
            match servers {
                Some(a)
                    if !a.is_empty()
                        && a.iter()
                            .all(|s| s.as_str().and_then(|s| Url::parse(s).ok()).is_some()) =>
                {
                    pass(
                        format!("{} authorization server(s)", a.len()),
                        prm_evidence(),
                    )
                }
                Some(a) if !a.is_empty() => fail(
                    "authorization_servers holds something that is not an issuer URL",
                    prm_evidence(),
                ),
                _ => fail("authorization_servers is missing or empty", prm_evidence()),
            }
        }
        "prm.bearer-methods" => match prm_json().and_then(|j| j.get("bearer_methods_supported")) {
            None => pass("not given", prm_evidence()),
            Some(v)
                if v.as_array()
                    .is_some_and(|a| a.iter().any(|m| m == "header")) =>
            {
                pass("includes header", prm_evidence())
            }
            Some(v) => fail(
                format!("bearer_methods_supported is {v}, without header"),
                prm_evidence(),
            ),
        },
        "as.metadata-discoverable" => match &o.as_metadata {
            Some(f) => pass(
                format!("found at {}", o.as_attempts[f.exchange].url),
                as_evidence(),
            ),
            None => fail(
                format!(
                    "no RFC 8414 or OIDC metadata for the PRM's issuer; tried {}",
                    o.as_attempts
                        .iter()
                        .map(|e| e.url.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                o.as_attempts.clone(),
            ),
        },
        "as.issuer-matches" => {
            let issuer = o.as_field("issuer").and_then(|i| i.as_str());
            match (issuer, o.issuer.as_deref()) {
                (Some(i), Some(asked)) if i == asked => {
                    pass("issuer matches exactly", as_evidence())
                }
                (Some(i), Some(_)) => fail(
                    format!("issuer is {i:?}, not the issuer the PRM names"),
                    as_evidence(),
                ),
                _ => fail("no issuer member", as_evidence()),
            }
        }
        "as.endpoints" => {
            let has = |k: &str| o.as_url(k).is_some();
            match (has("authorization_endpoint"), has("token_endpoint")) {
                (true, true) => pass("both endpoints are URLs", as_evidence()),
                (a, t) => fail(
                    format!(
                        "missing or not a URL: {}",
                        [
                            (!a).then_some("authorization_endpoint"),
                            (!t).then_some("token_endpoint")
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ")
                    ),
                    as_evidence(),
                ),
            }
        }
        "as.https" => {
            let insecure: Vec<String> = [
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "registration_endpoint",
                "jwks_uri",
            ]
            .iter()
            .filter_map(|k| Some((*k, o.as_field(k)?.as_str()?)))
            .filter(|(_, v)| Url::parse(v).is_ok_and(|u| insecure(&u)))
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
            if insecure.is_empty() {
                pass("https, or loopback", as_evidence())
            } else {
                fail(format!("not https: {}", insecure.join(", ")), as_evidence())
            }
        }
        "as.pkce-s256" => match o.as_field("code_challenge_methods_supported") {
            Some(v) if v.as_array().is_some_and(|a| a.iter().any(|m| m == "S256")) => {
                pass("S256 supported", as_evidence())
            }
            Some(v) => fail(
                format!("code_challenge_methods_supported is {v}, without S256"),
                as_evidence(),
            ),
            None => fail(
                "code_challenge_methods_supported is absent: clients must refuse to proceed",
                as_evidence(),
            ),
        },
        "as.iss-parameter" => match o.as_field("authorization_response_iss_parameter_supported") {
            Some(serde_json::Value::Bool(true)) => pass("advertised", as_evidence()),
            _ => fail(
                "authorization_response_iss_parameter_supported is not true",
                as_evidence(),
            ),
        },
        "dcr.registers" => match &o.registration {
            None => skip(
                "the authorization server advertises no registration_endpoint (DCR is optional)",
            ),
            Some((e, body)) => {
                let client_id = body
                    .as_ref()
                    .and_then(|b| b.get("client_id"))
                    .and_then(|c| c.as_str());
                match (e.status, client_id) {
                    (Some(201), Some(_)) => pass("201 Created with a client_id", vec![e.clone()]),
                    (Some(201), None) => {
                        fail("201, but no client_id in the response", vec![e.clone()])
                    }
                    (Some(s), _) => fail(
                        format!("a valid registration was answered {s}, not 201"),
                        vec![e.clone()],
                    ),
                    (None, _) => fail("no answer", vec![e.clone()]),
                }
            }
        },
        "dcr.echoes-metadata" => {
            let (e, body) = o.registration.as_ref().expect("depends on dcr.registers");
            let redirects = body.as_ref().and_then(|b| b.get("redirect_uris"));
            if redirects == Some(&serde_json::json!([o.callback.as_str()])) {
                pass("redirect_uris returned as registered", vec![e.clone()])
            } else {
                fail(
                    format!(
                        "redirect_uris in the response is {}, not the registered value",
                        redirects
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "absent".into())
                    ),
                    vec![e.clone()],
                )
            }
        }
        "dcr.rejects-insecure-redirect" => match &o.insecure_registration {
            None => skip(
                "the authorization server advertises no registration_endpoint (DCR is optional)",
            ),
            Some((e, body)) => {
                let error = body
                    .as_ref()
                    .and_then(|b| b.get("error"))
                    .and_then(|v| v.as_str());
                match (e.status, error) {
                    (Some(400), Some("invalid_redirect_uri" | "invalid_client_metadata")) => pass(
                        format!("400 {}", error.unwrap_or_default()),
                        vec![e.clone()],
                    ),
                    (Some(s), _) if (200..300).contains(&s) => fail(
                        "http://client.example.com/callback was registered",
                        vec![e.clone()],
                    ),
                    (Some(400), other) => fail(
                        format!(
                            "400, but error is {other:?}, not invalid_redirect_uri or invalid_client_metadata"
                        ),
                        vec![e.clone()],
                    ),
                    (Some(s), _) => fail(format!("answered {s}, not 400"), vec![e.clone()]),
                    (None, _) => fail("no answer", vec![e.clone()]),
                }
            }
        },
        "token.accepted" => match &o.with_token {
            None => {
                skip("no token: none given (--token, --token-file) and none obtained (--login)")
            }
            Some(seen) => {
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
        },
        "token.query-refused" => match &o.query_token {
            None => skip("no token"),
            Some(e) => match e.status {
                Some(s) if (200..300).contains(&s) => fail(
                    format!("a token in the query string was accepted (HTTP {s})"),
                    vec![e.clone()],
                ),
                Some(s) => pass(format!("answered {s}"), vec![e.clone()]),
                None => fail("no answer", vec![e.clone()]),
            },
        },
        "token.invalid-rejected" => token_refused(o.garbage_token.as_ref(), "an invalid token"),
        "token.invalid-token-error" => {
            let e = o.garbage_token.clone().expect("observed");
            let error = e
                .bearer_challenges()
                .next()
                .and_then(|c| c.param("error").map(str::to_owned));
            match error.as_deref() {
                Some("invalid_token") => pass("error=\"invalid_token\"", vec![e]),
                Some(other) => fail(format!("error=\"{other}\", not invalid_token"), vec![e]),
                None => fail("the Bearer challenge has no error parameter", vec![e]),
            }
        }
        "token.unsigned-rejected" => {
            token_refused(o.unsigned_token.as_ref(), "an unsigned (alg none) JWT")
        }
        "token.expired-rejected" => match &o.expired_token {
            None => skip("give a token that has expired: --expired-token or --expired-token-file"),
            Some(t) if t.expired_for.is_some_and(|s| s <= 0) => skip(
                "the token given as expired has not expired yet (its exp claim is in the future)",
            ),
            Some(t) => token_refused(
                Some(&t.exchange),
                if t.expired_for.is_some() {
                    "a token past its exp"
                } else {
                    "a token given as expired (opaque: its expiry cannot be read)"
                },
            ),
        },
        "token.insufficient-scope" => match &o.step_up {
            None => skip("name a tool the token's scope does not allow: --step-up-tool"),
            Some(e) => {
                let challenge = e.bearer_challenges().next();
                let error = challenge.as_ref().and_then(|c| c.param("error"));
                let scope = challenge.as_ref().and_then(|c| c.param("scope"));
                match (e.status, error, scope) {
                    (Some(403), Some("insufficient_scope"), Some(s)) => pass(
                        format!("403 insufficient_scope, scope=\"{s}\""),
                        vec![e.clone()],
                    ),
                    (Some(403), Some("insufficient_scope"), None) => fail(
                        "403 insufficient_scope without the scope needed",
                        vec![e.clone()],
                    ),
                    (Some(403), other, _) => fail(
                        format!("403, but error={}", other.unwrap_or("none")),
                        vec![e.clone()],
                    ),
                    (Some(s), _, _) if (200..300).contains(&s) => fail(
                        format!(
                            "answered {s}: the tool was not refused for scope (ask a narrower --scope if the token covers it)"
                        ),
                        vec![e.clone()],
                    ),
                    (Some(s), _, _) => fail(format!("answered {s}, not 403"), vec![e.clone()]),
                    (None, _, _) => fail("no answer", vec![e.clone()]),
                }
            }
        },
        "transport.https" => {
            let advertised = o
                .bearer()
                .and_then(|c| c.param("resource_metadata"))
                .and_then(|u| Url::parse(u).ok());
            let insecure: Vec<String> = std::iter::once(("the MCP endpoint", o.target.clone()))
                .chain(advertised.map(|u| ("resource_metadata", u)))
                .filter(|(_, u)| insecure(u))
                .map(|(what, u)| format!("{what} {u}"))
                .collect();
            if insecure.is_empty() {
                pass("https, or loopback", unauth())
            } else {
                fail(format!("not https: {}", insecure.join(", ")), unauth())
            }
        }
        "transport.metadata-cors" => {
            if o.cross_origin.is_empty() {
                return skip("no metadata document was found");
            }
            let closed: Vec<&str> = o
                .cross_origin
                .iter()
                .filter(|e| {
                    !matches!(e.access_control_allow_origin.as_deref(), Some(v) if v == "*" || v == crate::observe::WEB_ORIGIN)
                })
                .map(|e| e.url.as_str())
                .collect();
            if closed.is_empty() {
                pass(
                    "Access-Control-Allow-Origin allows a web page's origin",
                    o.cross_origin.clone(),
                )
            } else {
                // A MAY: reported, never a gate (exit codes ignore MAY failures).
                fail(
                    format!(
                        "no Access-Control-Allow-Origin for another origin on {}: browser-based clients cannot read it",
                        closed.join(", ")
                    ),
                    o.cross_origin.clone(),
                )
            }
        }
        "transport.token-not-echoed" => {
            let requests = o.token_requests();
            if requests.is_empty() {
                return skip("no request carried a token");
            }
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
        other if other.starts_with("authz.") || other.starts_with("cimd.") => {
            flow::evaluate(other, o)
        }
        other => skip(format!("no evaluation for {other}")),
    }
}

fn token_refused(exchange: Option<&Exchange>, what: &str) -> Finding {
    let Some(e) = exchange else {
        return skip("not observed");
    };
    match e.status {
        Some(401) => pass(format!("{what} was answered 401"), vec![e.clone()]),
        Some(s) if (200..300).contains(&s) => {
            fail(format!("{what} was accepted (HTTP {s})"), vec![e.clone()])
        }
        Some(s) => fail(format!("{what} was answered {s}, not 401"), vec![e.clone()]),
        None => fail(format!("no answer to {what}"), vec![e.clone()]),
    }
}

/// RFC 9728 / MCP comparison: scheme and host case-insensitive, default ports equal, an empty
/// path equal to "/" (RFC 3986 section 6.2.3), everything else exact.
pub fn same_resource(resource: &str, target: &Url) -> bool {
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
    r.fragment().is_none() && key(&r) == key(target)
}

/// Neither HTTPS nor loopback: where a bearer token must not travel (OAuth 2.1 §1.5).
fn insecure(u: &Url) -> bool {
    u.scheme() != "https" && !is_loopback(u)
}

fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_comparison() {
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
}
