//! The revisions of the MCP specification the tester speaks and judges against.

use serde::Serialize;

/// A revision of the MCP specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Revision {
    /// 2025-11-25.
    #[serde(rename = "2025-11-25")]
    R2025_11_25,
    /// 2026-07-28, the current one.
    #[serde(rename = "2026-07-28")]
    R2026_07_28,
}

impl Revision {
    /// The revision's date.
    pub fn as_str(self) -> &'static str {
        match self {
            Revision::R2025_11_25 => "2025-11-25",
            Revision::R2026_07_28 => "2026-07-28",
        }
    }

    /// Parses a date.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "2025-11-25" => Some(Revision::R2025_11_25),
            "2026-07-28" => Some(Revision::R2026_07_28),
            _ => None,
        }
    }
}

/// Both revisions.
pub const BOTH: &[Revision] = &[Revision::R2025_11_25, Revision::R2026_07_28];
