//! Reports: a table for people, JSON for machines (schema version 1), Markdown, JUnit; and the
//! exit code that makes a run a CI gate.

use comfy_table::{Cell, Color, ContentArrangement, Table};
use serde::Serialize;

use crate::{
    catalogue::{Check, CheckId, Citation, Level},
    checks::{Finding, Outcome},
    probe::Exchange,
    revision::Revision,
    secrets::Secrets,
};

/// The JSON report's schema version; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Stable id.
    pub id: CheckId,
    /// What a pass means.
    pub title: &'static str,
    /// MUST, SHOULD or MAY.
    pub level: Level,
    /// Where the rule is.
    pub citation: Citation,
    /// How the level was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// The outcome.
    pub outcome: Outcome,
    /// Why.
    pub reason: String,
    /// The exchanges that show it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Exchange>,
}

impl CheckResult {
    /// `check`'s finding, with what the report says of the check.
    pub fn new(check: &Check, finding: Finding) -> Self {
        Self {
            id: check.id,
            title: check.title,
            level: check.level,
            citation: check.citation,
            note: check.note,
            outcome: finding.outcome,
            reason: finding.reason,
            evidence: finding.evidence,
        }
    }
}

/// Counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Failed, any level.
    pub fail: usize,
    /// Warnings.
    pub warn: usize,
    /// Skipped.
    pub skip: usize,
    /// Failed MUSTs.
    pub must_failures: usize,
    /// Failed SHOULDs.
    pub should_failures: usize,
}

/// A run's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool.
    pub tool: &'static str,
    /// The MCP endpoint checked (volatile: it carries the port).
    pub target: String,
    /// The revision judged against.
    pub revision: Revision,
    /// Why that one: "as asked", "detected: …", or "not detected (…); the current revision".
    pub revision_basis: String,
    /// Results, in catalogue order.
    pub results: Vec<CheckResult>,
    /// Counts.
    pub summary: Summary,
}

impl Report {
    /// A report over results.
    pub fn new(
        target: String,
        revision: Revision,
        revision_basis: String,
        results: Vec<CheckResult>,
    ) -> Self {
        let mut summary = Summary::default();
        for r in &results {
            match r.outcome {
                Outcome::Pass => summary.pass += 1,
                Outcome::Warn => summary.warn += 1,
                Outcome::Skip => summary.skip += 1,
                Outcome::Fail => {
                    summary.fail += 1;
                    match r.level {
                        Level::Must => summary.must_failures += 1,
                        Level::Should => summary.should_failures += 1,
                        Level::May => {}
                    }
                }
            }
        }
        Self {
            schema_version: SCHEMA_VERSION,
            tool: "mcp-auth-conformance",
            target,
            revision,
            revision_basis,
            results,
            summary,
        }
    }

    /// Takes every credential of `secrets` out of everything the report says: reasons and
    /// evidence carry what servers sent, and a server may echo any credential it was given.
    pub fn scrub(&mut self, secrets: &Secrets) {
        secrets.scrub_in_place(&mut self.revision_basis);
        for r in &mut self.results {
            secrets.scrub_in_place(&mut r.reason);
            for e in &mut r.evidence {
                e.scrub(secrets);
            }
        }
    }

    /// 0 when no failure at `fail_on` or stronger, 1 otherwise (2, "could not run", is the
    /// caller's).
    pub fn exit_code(&self, fail_on: Level) -> i32 {
        let failing = self
            .results
            .iter()
            .any(|r| r.outcome == Outcome::Fail && r.level <= fail_on);
        i32::from(failing)
    }

    /// The terminal table, plain.
    pub fn table(&self) -> String {
        self.styled_table(false)
    }

    /// The terminal table; with `colour`, results are coloured (for a terminal).
    pub fn styled_table(&self, colour: bool) -> String {
        let mut table = Table::new();
        table
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(vec!["check", "level", "result", "reason"]);
        // Styling is decided here, never by whatever stdout happens to be.
        if colour {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        for r in &self.results {
            let colour = match r.outcome {
                Outcome::Pass => Color::Green,
                Outcome::Fail => Color::Red,
                Outcome::Warn => Color::Yellow,
                Outcome::Skip => Color::DarkGrey,
            };
            table.add_row(vec![
                Cell::new(r.id.as_str()),
                Cell::new(r.level.as_str()),
                Cell::new(outcome_word(r.outcome)).fg(colour),
                Cell::new(&r.reason),
            ]);
        }
        format!("{table}\n{}", self.summary_line())
    }

    /// One line of counts and the verdict.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        format!(
            "{} passed, {} failed ({} MUST, {} SHOULD), {} warnings, {} skipped; judged against MCP {} ({})",
            s.pass,
            s.fail,
            s.must_failures,
            s.should_failures,
            s.warn,
            s.skip,
            self.revision.as_str(),
            self.revision_basis
        )
    }

    /// The JSON report.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }

    /// A Markdown report. Everything a server could have put in it (reasons, the revision's
    /// basis) is escaped, so no text breaks the table or turns into markup.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# MCP authorization conformance\n\nTarget: {}  \n{}\n\n",
            markdown_text(&self.target),
            markdown_text(&self.summary_line())
        );
        out.push_str("| check | level | result | reason |\n| --- | --- | --- | --- |\n");
        for r in &self.results {
            out.push_str(&format!(
                "| [`{}`]({}) | {} | {} | {} |\n",
                r.id,
                r.citation.url,
                r.level.as_str(),
                outcome_word(r.outcome),
                markdown_text(&r.reason)
            ));
        }
        out
    }

    /// A JUnit XML report (one test case per check), written by `quick-junit`, which escapes
    /// markup and drops the characters XML cannot hold.
    pub fn junit(&self) -> String {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new("mcp-auth-conformance");
        for r in &self.results {
            let status = match r.outcome {
                Outcome::Pass | Outcome::Warn => TestCaseStatus::success(),
                Outcome::Fail => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(r.reason.as_str());
                    s.set_description(r.citation.url);
                    s
                }
                Outcome::Skip => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(r.reason.as_str());
                    s
                }
            };
            let mut case = TestCase::new(r.id.as_str(), status);
            case.set_classname(r.level.as_str());
            if r.outcome == Outcome::Warn {
                case.set_system_out(format!("warning: {}", r.reason));
            }
            suite.add_test_case(case);
        }
        let mut report = quick_junit::Report::new("mcp-auth-conformance");
        report.add_test_suite(suite);
        report.to_string().expect("a JUnit report serializes")
    }
}

impl Report {
    /// A SARIF 2.1.0 log, for code-scanning views: one rule per check, one result per failure.
    pub fn sarif(&self) -> String {
        let rules: Vec<serde_json::Value> = self
            .results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id.as_str(),
                    "shortDescription": {"text": r.title},
                    "helpUri": r.citation.url,
                    "properties": {"level": r.level.as_str(), "section": r.citation.section},
                })
            })
            .collect();
        let results: Vec<serde_json::Value> = self
            .results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Warn))
            .map(|r| {
                let level = match (r.outcome, r.level) {
                    (Outcome::Fail, Level::Must) => "error",
                    (Outcome::Fail, Level::Should) => "warning",
                    _ => "note",
                };
                serde_json::json!({
                    "ruleId": r.id.as_str(),
                    "level": level,
                    "message": {"text": r.reason},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": self.target}}}],
                })
            })
            .collect();
        let log = serde_json::json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": self.tool, "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
                "results": results,
            }],
        });
        serde_json::to_string_pretty(&log).expect("a SARIF log serializes")
    }

    /// Checks failing now, at `fail_on` or stronger, that did not fail in `baseline` (a JSON
    /// report of the same schema version).
    pub fn regressions(
        &self,
        baseline: &serde_json::Value,
        fail_on: Level,
    ) -> Result<Vec<CheckId>, String> {
        if baseline.get("schema_version").and_then(|v| v.as_u64())
            != Some(u64::from(SCHEMA_VERSION))
        {
            return Err(format!(
                "the baseline is not a schema_version {SCHEMA_VERSION} report"
            ));
        }
        let failed_before = |id: CheckId| {
            baseline["results"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["id"] == id.as_str() && r["outcome"] == "fail")
        };
        Ok(self
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail && r.level <= fail_on && !failed_before(r.id))
            .map(|r| r.id)
            .collect())
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::Warn => "warn",
        Outcome::Skip => "skip",
    }
}

/// Text as Markdown shows it literally: ASCII punctuation backslash-escaped (CommonMark lets
/// every one be), so `|`, backticks, `<`, `*` and `[` mean nothing; control characters and
/// line breaks, which would end a table row, become spaces.
fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push(' ');
        } else {
            if c.is_ascii_punctuation() {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let check = CheckId::ALL[0].check();
        let result = |outcome| {
            CheckResult::new(
                check,
                Finding {
                    outcome,
                    reason: "because".into(),
                    evidence: Vec::new(),
                },
            )
        };
        Report::new(
            "http://127.0.0.1/mcp".into(),
            Revision::R2026_07_28,
            "as asked".into(),
            vec![result(Outcome::Pass), result(Outcome::Fail)],
        )
    }

    #[test]
    fn colour_only_when_asked() {
        let r = report();
        assert!(!r.table().contains('\u{1b}'));
        let coloured = r.styled_table(true);
        assert!(coloured.contains("\u{1b}[38;5;9m") || coloured.contains("\u{1b}[31m"));
        assert_eq!(r.exit_code(Level::Must), 1);
    }
}
