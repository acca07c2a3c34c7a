//! A conformance run: check the selection, observe, then judge every selected check in
//! catalogue order, each after what it depends on; scrub every credential from the report.

use std::collections::HashMap;

use url::Url;

use crate::{
    catalogue::CheckId,
    checks::{Finding, Outcome, skip},
    observe::{Observations, ObserveOptions, Unreachable, flow::Login, observe},
    probe::Probe,
    report::{CheckResult, Report},
    revision::Revision,
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
    pub cimd_urls: Vec<Url>,
    /// How to obtain tokens through the server's own authorization server.
    pub login: Login,
    /// The scope to ask for (default: the challenge's `scope`).
    pub scope: Option<String>,
    /// A tool the requested scope does not allow: called to see the 403 step-up.
    pub step_up_tool: Option<String>,
}

impl RunOptions {
    /// What the observation needs of these options.
    fn observing(&self) -> ObserveOptions<'_> {
        ObserveOptions {
            revision: self.revision,
            token: self.token.as_deref(),
            expired_token: self.expired_token.as_deref(),
            cimd_urls: &self.cimd_urls,
            login: &self.login,
            scope: self.scope.as_deref(),
            step_up_tool: self.step_up_tool.as_deref(),
        }
    }

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

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The server could not be reached at all.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// `--only` or `--skip` names something no check is.
    #[error("{0}")]
    UnknownChecks(UnknownChecks),
}

/// Selection patterns that match no check.
#[derive(Debug)]
pub struct UnknownChecks(pub Vec<String>);

impl std::error::Error for UnknownChecks {}

impl std::fmt::Display for UnknownChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut areas: Vec<&str> = CheckId::ALL.iter().map(|id| id.area()).collect();
        areas.dedup();
        write!(
            f,
            "no check is, or lies under, {}. Known areas: {}. Known checks: {}",
            self.0
                .iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            areas.join(", "),
            CheckId::ALL
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Whether `id` is one of `patterns`, or lies under one (`prm` and `prm.` both select `prm.*`).
fn selected(id: CheckId, patterns: &[String]) -> bool {
    patterns.iter().any(|p| matches(id, p))
}

fn matches(id: CheckId, pattern: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('.');
    !pattern.is_empty()
        && (id.as_str() == pattern || id.as_str().starts_with(&format!("{pattern}.")))
}

/// Checks that every `--only` and `--skip` pattern selects at least one check, so that a typo
/// cannot turn a CI gate into "0 passed, 0 failed".
pub fn check_selection(options: &RunOptions) -> Result<(), UnknownChecks> {
    let unknown: Vec<String> = options
        .only
        .iter()
        .chain(&options.skip)
        .filter(|p| !CheckId::ALL.iter().any(|id| matches(*id, p)))
        .cloned()
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(UnknownChecks(unknown))
    }
}

/// Runs the checks against the MCP endpoint `target`.
pub async fn run(target: &Url, options: &RunOptions) -> Result<Report, RunError> {
    check_selection(options).map_err(RunError::UnknownChecks)?;
    let probe = Probe::new(target);
    // What the run was given; what it obtains, the probe registers as it passes through.
    for given in [&options.token, &options.expired_token]
        .into_iter()
        .flatten()
    {
        probe.secrets().add(given);
    }
    let observations = observe(target, &probe, &options.observing()).await?;
    let mut verdicts = Verdicts::new(&observations);
    let applies = |id: &CheckId| id.check().revisions.contains(&observations.revision);
    let wanted: Vec<CheckId> = CheckId::ALL
        .iter()
        .copied()
        .filter(applies)
        .filter(|id| options.only.is_empty() || selected(*id, &options.only))
        .filter(|id| !selected(*id, &options.skip))
        .collect();
    // A dependency that failed is reported with the checks it blocked, unless skipped by
    // name: `--only` cannot hide a failure by selecting what depends on it.
    let mut shown = wanted.clone();
    for id in &wanted {
        shown.extend(
            verdicts
                .failed_dependencies(*id)
                .into_iter()
                .filter(|dep| !selected(*dep, &options.skip)),
        );
    }
    let results: Vec<CheckResult> = CheckId::ALL
        .iter()
        .filter(|id| shown.contains(id))
        .map(|id| CheckResult::new(id.check(), verdicts.of(*id)))
        .collect();
    let mut report = Report::new(
        target.to_string(),
        observations.revision,
        observations.revision_basis.clone(),
        results,
    );
    report.scrub(probe.secrets());
    Ok(report)
}

/// Findings, each judged once, after what it depends on (whether or not that was selected).
struct Verdicts<'a> {
    observations: &'a Observations,
    found: HashMap<CheckId, Finding>,
}

impl<'a> Verdicts<'a> {
    fn new(observations: &'a Observations) -> Self {
        Self {
            observations,
            found: HashMap::new(),
        }
    }

    /// The finding of `id`: skipped when a dependency (judged first, recursively) did not
    /// pass or the check does not apply to the revision; judged otherwise.
    fn of(&mut self, id: CheckId) -> Finding {
        if let Some(found) = self.found.get(&id) {
            return found.clone();
        }
        let check = id.check();
        let revision = self.observations.revision;
        let finding = if !check.revisions.contains(&revision) {
            skip(format!("does not apply to MCP {}", revision.as_str()))
        } else {
            match check
                .depends_on
                .iter()
                .find(|dep| self.of(**dep).outcome != Outcome::Pass)
            {
                Some(dep) => skip(format!("depends on {dep}, which did not pass")),
                None => (check.judge)(self.observations),
            }
        };
        self.found.insert(id, finding.clone());
        finding
    }

    /// The checks `id` depends on, directly or not, that failed.
    fn failed_dependencies(&mut self, id: CheckId) -> Vec<CheckId> {
        let mut failed = Vec::new();
        for dep in id.check().depends_on {
            if self.of(*dep).outcome == Outcome::Fail {
                failed.push(*dep);
            }
            failed.extend(self.failed_dependencies(*dep));
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_by_id_or_prefix() {
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(selected(CheckId::PrmDiscoverable, &p(&["prm"])));
        assert!(selected(CheckId::PrmDiscoverable, &p(&["prm."])));
        assert!(selected(
            CheckId::PrmDiscoverable,
            &p(&["prm.discoverable"])
        ));
        assert!(!selected(CheckId::PrmDiscoverable, &p(&["pr"])));
        assert!(!selected(CheckId::AsHttps, &p(&["prm"])));
        assert!(!selected(CheckId::AsHttps, &p(&[""])));
    }

    #[test]
    fn a_pattern_that_selects_nothing_is_refused_with_the_known_ids() {
        let mut options = RunOptions::new(None);
        options.only = vec!["prm".into(), "prm.resource-matchs".into()];
        options.skip = vec!["tokn".into()];
        let err = check_selection(&options).unwrap_err();
        assert_eq!(err.0, ["prm.resource-matchs", "tokn"]);
        let said = err.to_string();
        assert!(
            said.contains("prm.resource-matches")
                && said.contains("Known areas: challenge, prm, as,"),
            "{said}"
        );
        options.only = vec!["token".into()];
        options.skip = vec!["token.accepted".into()];
        assert!(check_selection(&options).is_ok());
    }
}
