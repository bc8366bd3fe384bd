//! The names of the leak kinds and severities, as the policy and the report spell them.

/// The leak kinds of DESIGN.md's table, in its order: the policy keys
/// (`interface-enumeration = "warn"`) and the report's `kind` values.
///
/// `leakcheck::Kind::as_str` gives the same names (a test there keeps them equal); the
/// macro crate reads them here to check `#[leak_free(<kind> = "...")]` at compile time.
pub const KIND_NAMES: [&str; 15] = [
    "connect",
    "send",
    "dns",
    "ip-socket",
    "raw-socket",
    "untraceable",
    "interface-enumeration",
    "listen",
    "route-probe",
    "leftover-process",
    "protocol-leak",
    "proxy-ip-request",
    "socks-no-auth",
    "shared-isolation",
    "proxy-protocol-error",
];

/// The values a kind may be set to, from the most lenient: ignore it, report it as a
/// warning, fail the test on it (`leakcheck::Severity`).
pub const SEVERITY_NAMES: [&str; 3] = ["allow", "warn", "deny"];

/// The modes of the stand-in proxy (`stand-in = "accept" | "refuse"`; `true` means
/// `"accept"`), as the metadata, `--stand-in=MODE` and `#[leak_free(stand-in = ...)]`
/// spell them (`leakcheck::standin::Mode`).
pub const STAND_IN_MODES: [&str; 2] = ["accept", "refuse"];
