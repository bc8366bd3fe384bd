//! What the stand-in is told: its mode, its bounds, its answers.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::canary::Canaries;

/// What the stand-in answers a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Success, then the stand-in plays the destination (`--stand-in=accept`).
    #[default]
    Accept,
    /// What Tor answers when it cannot reach the destination: SOCKS 5 0x04 (host
    /// unreachable), SOCKS 4 0x5B, HTTP 502 (`--stand-in=refuse`).
    Refuse,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "accept" => Ok(Mode::Accept),
            "refuse" => Ok(Mode::Refuse),
            other => Err(format!(
                "unknown stand-in mode {other:?}: expected \"accept\" or \"refuse\""
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Mode::Accept => "accept",
            Mode::Refuse => "refuse",
        })
    }
}

/// Bounds on what one client can make the stand-in hold or wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The handshake (SOCKS messages, HTTP request head) may be this long.
    pub handshake_bytes: usize,
    /// Payload read and kept per stream; the stream ends when it is reached.
    pub payload_bytes: usize,
    /// Payload kept across all streams not yet taken; beyond it payloads are cut (after
    /// their canary search).
    pub payload_total: usize,
    /// A stream ends after this long without data from the client.
    pub idle: Duration,
    /// A stream ends this long after it was accepted, whatever it does.
    pub stream: Duration,
    /// Connections served at the same time; more wait in the listen backlog.
    pub connections: usize,
    /// Streams held (not yet taken); more are counted in `Recorded::dropped`.
    pub streams: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake_bytes: 16 << 10,
            payload_bytes: 64 << 10,
            payload_total: 64 << 20,
            idle: Duration::from_secs(1),
            stream: Duration::from_secs(5),
            connections: 256,
            streams: 100_000,
        }
    }
}

/// What the `identify` hook learns about a client when its connection is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The endpoint's name.
    pub proxy: String,
    /// The client's address (TCP).
    pub client: Option<SocketAddr>,
    /// The listener's address (TCP).
    pub server: Option<SocketAddr>,
    /// The client's pid from `SO_PEERCRED` (unix sockets).
    pub pid: Option<u32>,
}

/// Maps a client to its pid while its connection is open (e.g.
/// [`super::loopback_client_pid`]); called on the connection's thread.
pub type Identify = Arc<dyn Fn(&Peer) -> Option<u32> + Send + Sync>;

/// The answer to RESOLVE (TEST-NET-2, RFC 5737).
pub const RESOLVE_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// The answer to RESOLVE_PTR.
pub const PTR_ANSWER: &str = "resolved.leakcheck.invalid";
/// The name bait servers greet with.
pub const BAIT_NAME: &str = "mail.leakcheck.invalid";

/// Longest SOCKS 4 userid or 4a host name.
pub(super) const MAX_SOCKS4_FIELD: usize = 1024;
/// How long a stream that was answered with an error (or a RESOLVE) is still read, to
/// keep what the client pipelined and to let it read the answer before the close.
pub(super) const LINGER: Duration = Duration::from_millis(200);

/// The stand-in's configuration.
#[derive(Clone, Default)]
pub struct Config {
    /// Accept or refuse.
    pub mode: Mode,
    /// Bounds.
    pub limits: Limits,
    /// When set, each stream is searched when it ends (before its payload can be cut)
    /// and its hits put in [`Stream::canary_hits`].
    pub canaries: Option<Canaries>,
    /// The name bait servers greet with ([`BAIT_NAME`] when empty).
    pub bait_name: String,
    /// Maps a client to a pid at accept time (unix clients get theirs from
    /// `SO_PEERCRED`).
    pub identify: Option<Identify>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("limits", &self.limits)
            .field("canaries", &self.canaries)
            .field("bait_name", &self.bait_name)
            .field("identify", &self.identify.as_ref().map(|_| "fn"))
            .finish()
    }
}
