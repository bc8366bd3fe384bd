//! What `leakcheck` and its `#[leak_free]` macro must agree on: the endpoint grammar of
//! allow lists and the names of the leak kinds and severities.
//!
//! The macro crate cannot depend on `leakcheck` (which re-exports the macro), yet it
//! checks `#[leak_free(allow = [...], <kind> = "<severity>", stand-in = ...)]` at compile
//! time. Both
//! crates use this one, so an entry the attribute accepts is an entry the run-time policy
//! accepts, with the same message when it does not.

mod endpoint;
mod names;

pub use endpoint::{is_dns_port, Endpoint, EndpointProblem, PortSpec, DNS_PORTS};
pub use names::{KIND_NAMES, SEVERITY_NAMES, STAND_IN_MODES};
