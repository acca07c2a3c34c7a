//! A conformance run: observe, then judge every applicable check in catalogue order.

use url::Url;

use crate::{
    catalogue::{CATALOGUE, Revision},
    checks::{self, Outcome},
    observe::{Unreachable, flow::Login, observe},
    probe::Probe,
    report::{CheckResult, Report},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The revision to judge against; `None` detects what the server speaks.
    pub revision: Option<Revision>,
    /// Only checks whose id is, or starts with, one of these (all when empty).
    pub only: Vec<String>,
    /// Not these (ids or prefixes).
    pub skip: Vec<String>,
    /// An access token for the server, obtained elsewhere (checks that need one skip without).
    pub token: Option<String>,
    /// A token of the server's authorization server that has expired.
    pub expired_token: Option<String>,
    /// Where the tester's client metadata document is published for a server that cannot
    /// fetch from loopback; a second URL serving the same document lets the mismatch check run.
    pub cimd_urls: Vec<url::Url>,
    /// How to obtain tokens through the server's own authorization server.
    pub login: Login,
    /// The scope to ask for (default: the challenge's `scope`).
    pub scope: Option<String>,
    /// A tool the requested scope does not allow: called to see the 403 step-up.
    pub step_up_tool: Option<String>,
}

impl RunOptions {
    /// Checks everything for `revision` (detected when `None`), with no token and no sign-in.
    pub fn new(revision: Option<Revision>) -> Self {
        Self {
            revision,
            only: Vec::new(),
            skip: Vec::new(),
            token: None,
            expired_token: None,
            cimd_urls: Vec::new(),
            login: Login::None,
            scope: None,
            step_up_tool: None,
        }
    }
}

/// Whether `id` is one of `patterns`, or lies under one (`prm` and `prm.` both select `prm.*`).
fn selected(id: &str, patterns: &[String]) -> bool {
    patterns
        .iter()
        .any(|p| id == p || id.starts_with(&format!("{}.", p.trim_end_matches('.'))))
}

/// Runs the checks against the MCP endpoint `target`.
pub async fn run(target: &Url, options: &RunOptions) -> Result<Report, Unreachable> {
    let probe = Probe::new(target);
    let observations = observe(target, &probe, options).await?;
    let mut results: Vec<CheckResult> = Vec::new();
    for def in CATALOGUE {
        if !def.revisions.contains(&observations.revision) {
            continue;
        }
        if (!options.only.is_empty() && !selected(def.id, &options.only))
            || selected(def.id, &options.skip)
        {
            continue;
        }
        let blocked = def.depends_on.iter().find(|dep| {
            // A dependency that was filtered out is evaluated silently, so the judgement holds.
            let outcome = results
                .iter()
                .find(|r| r.id == **dep)
                .map(|r| r.outcome)
                .unwrap_or_else(|| checks::evaluate(dep, &observations).outcome);
            outcome != Outcome::Pass
        });
        let finding = match blocked {
            Some(dep) => checks::Finding {
                outcome: Outcome::Skip,
                reason: format!("depends on {dep}, which did not pass"),
                evidence: Vec::new(),
            },
            None => checks::evaluate(def.id, &observations),
        };
        results.push(CheckResult {
            id: def.id,
            title: def.title,
            level: def.level,
            citation: def.citation,
            note: def.note,
            outcome: finding.outcome,
            reason: finding.reason,
            evidence: finding.evidence,
        });
    }
    Ok(Report::new(
        target.to_string(),
        observations.revision,
        observations.revision_basis.clone(),
        results,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_by_id_or_prefix() {
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(selected("prm.discoverable", &p(&["prm"])));
        assert!(selected("prm.discoverable", &p(&["prm."])));
        assert!(selected("prm.discoverable", &p(&["prm.discoverable"])));
        assert!(!selected("prm.discoverable", &p(&["pr"])));
        assert!(!selected("as.https", &p(&["prm"])));
    }
}
