//! What a traced program may reach, and how bad each kind of attempt is.
//!
//! A policy is assembled from layers (DESIGN.md, "Policy"): workspace metadata, package
//! metadata, the overrides whose filter matches the test, `LEAKCHECK_ALLOW`, `--allow`,
//! Heteronculous' variables and a test's own `#[leak_free(...)]`. Each source is parsed
//! into a [`PolicyConfig`] layer, layers are stacked with [`PolicyConfig::merge`], and
//! [`PolicyConfig::resolve`] turns the stack into the [`Policy`] the judge asks questions
//! of. Parsing is strict because a silently ignored allow entry or key hides leaks (or
//! lets them through): every mistake is a [`PolicyError`] naming where it came from.
//!
//! Two rules of DESIGN.md's "What counts" are enforced here rather than in the judge so
//! that no caller can forget them:
//!
//! * port 53 and 853 (DNS, DNS over TLS) are only allowed by an entry naming that single
//!   port; `*` and ranges never let them through;
//! * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as the IPv4 address.
//!
//! One source per file, each depending only on the files listed before it:
//!
//! * the endpoint grammar ([`Endpoint`]) is `leakcheck-core`'s, shared with the
//!   `#[leak_free]` macro so that both accept the same entries;
//! * `error`: [`PolicyError`], one struct with a [`PolicyErrorKind`];
//! * `bre`: POSIX basic regular expressions, translated for the `regex` crate;
//! * `heteronculous`: the rules of Heteronculous' `LEAK_CI_ALLOW_*` variables;
//! * `layers`: [`PolicyConfig`] and how layers stack, and the resolved [`Policy`];
//! * `metadata`: the `Cargo.toml` tables, as `cargo metadata` shows them;
//! * `env`: the environment variables (`LEAKCHECK_ALLOW`, Heteronculous').

mod bre;
mod env;
mod error;
mod heteronculous;
mod layers;
mod metadata;

pub use bre::bre_to_regex;
pub use env::{split_allow_list, LEAKCHECK_ALLOW_VAR};
pub use error::{PolicyError, PolicyErrorKind};
pub use heteronculous::{
    strace_ipv6_text, HeteronculousRule, HeteronculousRules, IpFamily, LEAK_CI_ALLOW_IP4_ADDR_PORT,
    LEAK_CI_ALLOW_IP6_ADDR_PORT, LEAK_CI_ALLOW_IP_PROTOCOL,
};
pub use layers::{Override, Policy, PolicyConfig};
pub use leakcheck_core::{is_dns_port, Endpoint, EndpointProblem, PortSpec, DNS_PORTS};
