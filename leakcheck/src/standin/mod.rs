//! The stand-in proxy (`--stand-in[=accept|refuse]`, DESIGN.md): leakcheck serves SOCKS
//! 4/4a/5 (and HTTP CONNECT where configured) on the allowed proxy endpoints inside the
//! run's network namespace, records every stream and looks for the host's identity
//! (canaries) in what is sent.
//!
//! **It never connects anywhere**: it plays the destination itself. In `accept` mode it
//! answers success, greets where the server speaks first (SMTP, FTP, POP3, IMAP by the
//! requested port), reads what the client sends (bounded in bytes and time) and closes;
//! RESOLVE gets [`RESOLVE_ANSWER`], RESOLVE_PTR [`PTR_ANSWER`]. In `refuse` mode it
//! answers as Tor does when it cannot reach the destination.
//!
//! The pieces, for the wiring:
//! - [`StandIn::start`] serves on already-bound [`Listen`]ers with a [`Config`];
//!   [`StandIn::wait_idle`], [`StandIn::take`] and [`StandIn::stop`] hand back the
//!   [`Stream`]s (DESIGN.md's `streams` report objects, serde-serializable);
//! - [`Canaries`] (the recommended ones: [`Canaries::recommended`]) search streams for
//!   the host name and addresses in their text and binary forms;
//! - [`stream_findings`] and [`shared_isolation`] turn streams into [`StreamFinding`]s of
//!   the kinds `protocol-leak`, `proxy-ip-request`, `socks-no-auth`,
//!   `proxy-protocol-error` and `shared-isolation`;
//! - [`loopback_client_pid`] maps a TCP client to its process (an [`Identify`] hook).

mod bait;
pub mod canary;
pub mod config;
mod conn;
pub mod findings;
mod http;
pub mod listen;
pub mod peer;
pub mod plan;
mod record;
pub mod server;
mod session;
mod socks;
pub mod stream;

#[cfg(test)]
mod tests;

pub use canary::{
    Canaries, CanaryHit, Form, Match, Part, CANARY_HOST_NAME, CANARY_IPV4, CANARY_IPV6,
    CANARY_SHORT_NAME,
};
pub use config::{Config, Identify, Limits, Mode, Peer, BAIT_NAME, PTR_ANSWER, RESOLVE_ANSWER};
pub use findings::{
    shared_isolation, stream_findings, FindingKind, IsolationKey, StreamFinding, TestFinding,
};
pub use listen::Listen;
pub use peer::{client_pid, loopback_client_pid};
pub use plan::{served, Offer, Plan, Serving, STAND_IN_ENV};
pub use record::Recorded;
pub use server::StandIn;
pub use stream::{Command, Protocol, Raw, Reply, Stream};
