//! An independent conformance tester for the MCP Authorization specification.
//!
//! It shares no code with the bundled server, so that a bug in one cannot hide in the other.
//! Only the header parser exists so far; the checks come with their own issue.

pub mod www_authenticate;
