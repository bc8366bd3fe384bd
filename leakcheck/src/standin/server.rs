//! The stand-in proxy server: one accept thread per listener, one bounded thread per
//! connection, every stream recorded.
//!
//! It never connects anywhere: after a successful CONNECT it plays the destination
//! itself (see `bait`), reads what the client sends (bounded in bytes and time) and
//! closes. Stopping wakes every thread through a pipe that all of them poll, and joins
//! them.
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::config::*;
use super::conn::*;
use super::listen::*;
use super::record::*;
use super::session::*;
use super::stream::Stream;

/// A running stand-in. Dropping it stops it (like [`StandIn::stop`], discarding the
/// streams).
pub struct StandIn {
    pub(super) shared: Arc<Shared>,
    pub(super) wake_tx: Option<OwnedFd>,
    pub(super) threads: Vec<JoinHandle<()>>,
    pub(super) endpoints: Vec<String>,
}

impl fmt::Debug for StandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandIn")
            .field("endpoints", &self.endpoints)
            .field("active", &self.active())
            .finish()
    }
}

impl StandIn {
    /// Serves on each listener until stopped.
    pub fn start(listens: Vec<Listen>, mut config: Config) -> io::Result<StandIn> {
        if config.bait_name.is_empty() {
            config.bait_name = BAIT_NAME.to_string();
        }
        config.limits.connections = config.limits.connections.max(1);
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 writes two descriptors into the array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (wake, wake_tx) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let shared = Arc::new(Shared {
            config,
            wake,
            stopping: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            next_id: AtomicU64::new(0),
        });
        let mut standin = StandIn {
            shared,
            wake_tx: Some(wake_tx),
            threads: Vec::new(),
            endpoints: listens.iter().map(|l| l.name.clone()).collect(),
        };
        for listen in listens {
            listen.set_nonblocking()?;
            let shared = standin.shared.clone();
            let thread = thread::Builder::new()
                .name("standin-accept".into())
                .spawn(move || accept_loop(listen, shared))?;
            standin.threads.push(thread);
        }
        Ok(standin)
    }

    /// The endpoints' names, in the order given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Connections being served now.
    pub fn active(&self) -> usize {
        self.shared.state().active
    }

    /// Waits until no connection is being served (every stream so far has ended and is
    /// recorded), at most `timeout`; false when some still are.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        while st.active > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// The streams that ended since the last call (the stand-in keeps serving).
    pub fn take(&self) -> Recorded {
        let mut st = self.shared.state();
        let mut streams = std::mem::take(&mut st.streams);
        let dropped = std::mem::take(&mut st.dropped);
        st.kept = 0;
        drop(st);
        streams.sort_by_key(|s| s.id);
        Recorded { streams, dropped }
    }

    /// Stops serving: wakes every thread, ends the streams in progress (each recorded
    /// with what it got so far), joins all threads and returns the streams not yet
    /// taken.
    pub fn stop(mut self) -> Recorded {
        self.shutdown();
        self.take()
    }

    pub(super) fn shutdown(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Closing the write end makes the read end readable (POLLHUP) for every poller.
        drop(self.wake_tx.take());
        {
            let _st = self.shared.state();
            self.shared.changed.notify_all();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub(super) fn accept_loop(listen: Listen, shared: Arc<Shared>) {
    let info = Arc::new(EndpointInfo {
        name: listen.name.clone(),
        http_connect: listen.http_connect,
        server: listen.server,
    });
    let mut children: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        {
            let mut st = shared.state();
            while st.active >= shared.config.limits.connections && !shared.stopping() {
                st = shared
                    .changed
                    .wait_timeout(st, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        match wait_fd(listen.raw_fd(), shared.wake.as_raw_fd(), None) {
            Wait::Stopped => break,
            Wait::Timeout => continue,
            Wait::Ready => {}
        }
        let (sock, client) = match listen.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                ) {
                    // EMFILE and the like: do not spin.
                    thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
        };
        // Join the threads that have ended, so that handles do not pile up.
        let (done, running): (Vec<_>, Vec<_>) = children.drain(..).partition(|h| h.is_finished());
        children = running;
        for h in done {
            let _ = h.join();
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        shared.state().active += 1;
        let active = Active(shared.clone());
        let (shared2, info2) = (shared.clone(), info.clone());
        let spawned = thread::Builder::new()
            .name("standin-stream".into())
            .stack_size(256 << 10)
            .spawn(move || {
                let _active = active;
                let stream = catch_unwind(AssertUnwindSafe(|| {
                    serve(sock, &info2, &shared2, id, client)
                }))
                .unwrap_or_else(|_| {
                    let mut s = Stream::new(id, info2.name.clone());
                    s.error = Some("the stand-in failed on this stream (a bug)".into());
                    s
                });
                shared2.record(stream);
            });
        match spawned {
            Ok(h) => children.push(h),
            Err(e) => {
                let mut s = Stream::new(id, info.name.clone());
                s.client = client.map(|c| c.to_string());
                s.peer = client;
                s.error = Some(format!("the stand-in could not serve this stream: {e}"));
                shared.record(s);
            }
        }
    }
    for h in children {
        let _ = h.join();
    }
}
