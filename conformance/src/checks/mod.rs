//! The checks, one unit each (definition, dependencies, judgement), grouped by area in the
//! order a client meets them; and what every judgement shares: outcomes, and what counts as a
//! refusal.

pub mod as_metadata;
pub mod authz;
pub mod challenge;
pub mod cimd;
pub mod dcr;
pub mod prm;
pub mod registry;
pub mod token;
pub mod transport;

use serde::Serialize;
use url::Url;

use crate::{
    client::{
        browser::{Landing, Navigation},
        token::TokenAnswer,
    },
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

fn finding(outcome: Outcome, reason: impl Into<String>, evidence: Vec<Exchange>) -> Finding {
    Finding {
        outcome,
        reason: reason.into(),
        evidence,
    }
}

fn pass(reason: impl Into<String>, evidence: Vec<Exchange>) -> Finding {
    finding(Outcome::Pass, reason, evidence)
}

fn fail(reason: impl Into<String>, evidence: Vec<Exchange>) -> Finding {
    finding(Outcome::Fail, reason, evidence)
}

fn warn(reason: impl Into<String>, evidence: Vec<Exchange>) -> Finding {
    finding(Outcome::Warn, reason, evidence)
}

/// Not judged, with why.
pub fn skip(reason: impl Into<String>) -> Finding {
    finding(Outcome::Skip, reason, Vec::new())
}

/// Several findings of one rule as one: the worst (a failure, then a warning, then a skip)
/// with its reason, or a pass saying `passed`; with the evidence of them all.
fn all_of(findings: Vec<Finding>, evidence: Vec<Exchange>, passed: &str) -> Finding {
    let worst = [Outcome::Fail, Outcome::Warn, Outcome::Skip]
        .into_iter()
        .find_map(|o| findings.iter().find(|f| f.outcome == o));
    match worst {
        Some(f) => Finding {
            outcome: f.outcome,
            reason: f.reason.clone(),
            evidence,
        },
        None => pass(passed, evidence),
    }
}

/// A response's status, for reasons.
fn status(e: &Exchange) -> String {
    e.status.map_or_else(|| "none".into(), |s| s.to_string())
}

/// OAuth error codes that say the server failed, not that it refused (RFC 6749 §4.1.2.1).
const FAULT_CODES: &[&str] = &["server_error", "temporarily_unavailable"];

/// What the authorization server made of a request it should turn down.
enum AsAnswer {
    /// Turned down, for a reason it gave (said in a sentence), with its error code if any.
    Refused(String, Option<String>),
    /// It failed (5xx, `server_error`): a fault, not a refusal.
    Fault(String),
    /// It went on: a code or tokens came.
    WentOn(String),
    /// Neither: the navigation could not be finished (skip).
    Unclear(Finding),
}

/// Where an authorization request ended, seen as a refusal or not.
fn navigation_answer(n: &Navigation) -> AsAnswer {
    match &n.landing {
        Landing::Refused => {
            let status = n.hops.last().and_then(|h| h.status).unwrap_or_default();
            if status >= 500 {
                AsAnswer::Fault(format!(
                    "the AS failed with HTTP {status}: a fault, not a refusal"
                ))
            } else {
                AsAnswer::Refused(n.describe(), None)
            }
        }
        Landing::Callback(r) => match (r.code(), r.error()) {
            (_, Some(e)) if FAULT_CODES.contains(&e) => AsAnswer::Fault(format!(
                "the AS answered the client with error={e}: a fault, not a refusal"
            )),
            (_, Some(e)) => AsAnswer::Refused(n.describe(), Some(e.to_owned())),
            (Some(_), None) => AsAnswer::WentOn(n.describe()),
            (None, None) => AsAnswer::Fault(n.describe()),
        },
        Landing::NeedsCredentials | Landing::Stuck(_) => AsAnswer::Unclear(unfinished(n)),
    }
}

/// What the token endpoint answered, seen as a refusal or not.
fn token_answer(t: &TokenAnswer) -> AsAnswer {
    let said = refusal_said(t);
    match (t.exchange.status, t.error.as_deref()) {
        _ if t.tokens.is_some() => AsAnswer::WentOn("the token endpoint issued tokens".into()),
        (None, _) => AsAnswer::Fault(format!(
            "the token endpoint did not answer ({})",
            t.exchange.error.as_deref().unwrap_or("no response")
        )),
        (Some(s), _) if s >= 500 => AsAnswer::Fault(format!(
            "the token endpoint failed ({said}): a fault, not a refusal"
        )),
        (_, Some(e)) if FAULT_CODES.contains(&e) => AsAnswer::Fault(format!(
            "the token endpoint failed ({said}): a fault, not a refusal"
        )),
        (Some(s), error) if (400..500).contains(&s) => {
            AsAnswer::Refused(said, error.map(str::to_owned))
        }
        (Some(_), _) => AsAnswer::Fault(format!(
            "the token endpoint answered {said}, neither tokens nor an error"
        )),
    }
}

/// How the token endpoint answered: "HTTP 400, error=invalid_grant".
fn refusal_said(t: &TokenAnswer) -> String {
    match &t.error {
        Some(e) => format!("HTTP {}, error={e}", status(&t.exchange)),
        None => format!("HTTP {}", status(&t.exchange)),
    }
}

/// A skip for a navigation that neither reached the client nor was refused.
fn unfinished(n: &Navigation) -> Finding {
    match &n.landing {
        Landing::NeedsCredentials => skip(
            "the sign-in asks for credentials: give --login form with --username and --password",
        ),
        _ => skip(n.describe()),
    }
}

/// What the MCP endpoint made of a token it must not accept.
enum ResourceAnswer {
    /// Refused, for the right reason, with this status.
    Refused(u16),
    /// Served, with this status.
    Accepted(u16),
    /// Anything else: not a refusal of the token, or not one that says anything (the finding).
    NotJudged(Finding),
}

/// How the MCP endpoint answered a token it must not accept, measured against the same request
/// made with the valid token (`valid_accepted`): only a 401 or 403 with a Bearer challenge, or
/// the 400 `invalid_request` RFC 6750 §3.1 gives to a request that carries its token in a way
/// the server does not support, is a refusal of the token; anything else never judged it.
fn resource_answer(
    e: &Exchange,
    what: &str,
    valid_accepted: bool,
    evidence: Vec<Exchange>,
) -> ResourceAnswer {
    let challenge = e.bearer_challenges().next();
    let invalid_request = challenge.is_some_and(|c| c.param("error") == Some("invalid_request"));
    let not_judged = |f: Finding| ResourceAnswer::NotJudged(f);
    match e.status {
        None => not_judged(fail(format!("no answer to {what}"), evidence)),
        Some(s) if (200..300).contains(&s) => ResourceAnswer::Accepted(s),
        Some(s) if !valid_accepted => not_judged(skip(format!(
            "{what} was answered {s}, but the valid token was not accepted either (see token.accepted): the answer says nothing about the token"
        ))),
        // Refused; whether the 401 carries its challenge is challenge.every-401's to judge,
        // once, not every check that met it (issue 24 item 11).
        Some(s @ (401 | 403)) => ResourceAnswer::Refused(s),
        Some(400) if invalid_request => ResourceAnswer::Refused(400),
        Some(s) => not_judged(fail(
            format!(
                "{what} was answered {s}: not a refusal of the token (a 401 or 403 with a Bearer challenge), though the valid token was accepted the same way"
            ),
            evidence,
        )),
    }
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

/// Whether a content type is JSON (`application/json`, any parameters).
fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/json")
    })
}
