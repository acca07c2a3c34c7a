//! The example clients (`cargo xtask client`): the three ways an MCP client gets a client id
//! (pre-registered, Dynamic Client Registration, a Client ID Metadata Document), each step of
//! the flow recorded on a timeline, and (`--conformance`) the client a conformance harness runs.
//! Built on the conformance tester's client-side code; the server's code stays out.

pub mod conformance;
pub mod headless;
pub mod session;
pub mod settings;
pub mod timeline;
pub mod web;
