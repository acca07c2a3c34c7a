//! An independent conformance tester for the MCP Authorization specification.
//!
//! It shares no code with the bundled server, so that a bug in one cannot hide in the other.
//! A run observes the server the way a client discovers it (`observe`, over `probe`), then judges
//! each check of the `catalogue` as a pure function of those observations (`checks`), and
//! reports (`report`), with every credential the run saw scrubbed (`secrets`).

pub mod catalogue;
pub mod checks;
pub mod cli;
pub mod client;
pub mod observe;
pub mod probe;
pub mod report;
pub mod revision;
pub mod run;
pub mod secrets;
pub mod www_authenticate;
