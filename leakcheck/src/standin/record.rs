//! What the stand-in has recorded, shared by its threads.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::config::*;
use super::stream::Stream;

/// Streams taken from the stand-in.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The streams that ended, in the order they were accepted.
    pub streams: Vec<Stream>,
    /// Streams not recorded because `Limits::streams` were held: when not zero, the
    /// record is incomplete (the wiring should make the verdict unverified).
    pub dropped: u64,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) streams: Vec<Stream>,
    pub(super) dropped: u64,
    pub(super) kept: usize,
    pub(super) active: usize,
}

pub(super) struct Shared {
    pub(super) config: Config,
    /// The read end of the stop pipe: readable (hung up) once stopping.
    pub(super) wake: OwnedFd,
    pub(super) stopping: AtomicBool,
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
    pub(super) next_id: AtomicU64,
}

impl Shared {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(super) fn record(&self, mut s: Stream) {
        if let Some(canaries) = &self.config.canaries {
            s.canary_hits = s.scan(canaries);
        }
        let limits = &self.config.limits;
        let mut st = self.state();
        if st.streams.len() >= limits.streams {
            st.dropped += 1;
            return;
        }
        let room = limits.payload_total.saturating_sub(st.kept);
        if s.raw.payload.len() > room {
            s.raw.payload.truncate(room);
            s.raw.payload.shrink_to_fit();
            s.raw.truncated = true;
        }
        st.kept += s.raw.payload.len();
        st.streams.push(s);
    }
}

/// Decrements the active count when a connection's thread ends (or never starts).
pub(super) struct Active(pub(super) Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        let mut st = self.0.state();
        st.active -= 1;
        self.0.changed.notify_all();
    }
}

/// What an accept thread knows about its endpoint.
pub(super) struct EndpointInfo {
    pub(super) name: String,
    pub(super) http_connect: bool,
    pub(super) server: Option<SocketAddr>,
}
