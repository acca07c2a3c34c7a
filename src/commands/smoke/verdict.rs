//! One line of the smoke report: what was checked and how it came out.

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// As it must be.
    Pass,
    /// Works, with a risk the detail names.
    Warn,
    /// Broken: the detail says what to do.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
}
