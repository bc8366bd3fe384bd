//! The end of a traced run, shared by both backends: the timeout, and the processes a
//! program leaves running.
//!
//! A program's verdict is final shortly after it exits: whatever it left running
//! (children, `setsid` daemons) is stopped [`GRACE`] later and named in the run's result,
//! so that a forgotten daemon can neither hang the run nor act after it was judged. The
//! watchdog knows the traced tasks from the tracer (every task it has seen and not yet
//! seen end), not from the process group, which a daemon leaves.

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// How long the tasks a program left behind may go on after it exited.
pub const GRACE: Duration = Duration::from_secs(1);

/// A process the traced program left running, which leakcheck stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its process id.
    pub pid: u32,
    /// Its program (`comm`, e.g. `sleep`).
    pub program: String,
}

/// What the tracer tells the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The traced program itself has ended: its leftovers have [`GRACE`] to end.
    RootExited,
}

/// The tasks a tracer has seen and not yet seen end, and the watchdog's conclusions.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    live: Mutex<HashSet<u32>>,
    leftovers: Mutex<Vec<Leftover>>,
    timed_out: AtomicBool,
}

impl Tasks {
    /// A task was seen.
    pub(crate) fn started(&self, tid: u32) {
        if let Ok(mut live) = self.live.lock() {
            live.insert(tid);
        }
    }

    /// A task ended.
    pub(crate) fn ended(&self, tid: u32) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&tid);
        }
    }

    /// Whether the watchdog terminated the run for its timeout.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    /// The processes stopped after the program exited.
    pub(crate) fn take_leftovers(&self) -> Vec<Leftover> {
        self.leftovers
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    /// Signals every live task (each one's whole process) that is still traced by
    /// `tracer` (when given: a pid not yet seen to end may have been reused); returns the
    /// processes signalled.
    fn signal_live(&self, signal: Signal, tracer: Option<u32>) -> Vec<Leftover> {
        let live: Vec<u32> = self
            .live
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default();
        let mut seen = HashSet::new();
        let mut hit = Vec::new();
        for tid in live {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{tid}/status")) else {
                continue;
            };
            let field = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().parse::<u32>().ok())
            };
            if let Some(tracer) = tracer {
                if field("TracerPid:") != Some(tracer) {
                    continue;
                }
            }
            let tgid = field("Tgid:").unwrap_or(tid);
            if !seen.insert(tgid) {
                continue;
            }
            let program = std::fs::read_to_string(format!("/proc/{tgid}/comm"))
                .map(|c| c.trim_end().to_string())
                .unwrap_or_else(|_| "?".to_string());
            let _ = kill(Pid::from_raw(tgid as i32), signal);
            hit.push(Leftover { pid: tgid, program });
        }
        hit
    }
}

/// How the watchdog ends a run.
pub(crate) struct Watchdog<'a> {
    /// The traced program's process (group leader when `own_group`).
    pub root: Pid,
    /// The program runs in a process group of its own.
    pub own_group: bool,
    /// Terminate everything after this long.
    pub timeout: Option<Duration>,
    /// Stop leftovers [`GRACE`] after the program ended (false: wait for the whole tree,
    /// as strace -f does).
    pub stop_leftovers: bool,
    /// Only tasks traced by this pid are signalled (strace's); None: the caller's own.
    pub tracer: Option<u32>,
    /// The tasks.
    pub tasks: &'a Tasks,
}

impl Watchdog<'_> {
    /// Runs until `events` is closed (the trace is over).
    pub(crate) fn run(&self, events: &mpsc::Receiver<Event>) {
        let started = Instant::now();
        let deadline = self.timeout.map(|t| started + t);
        let mut grace_end: Option<Instant> = None;
        loop {
            let next = match (deadline, grace_end) {
                (Some(d), Some(g)) => Some(d.min(g)),
                (d, g) => d.or(g),
            };
            let message = match next {
                Some(at) => events.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => events
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match message {
                Ok(Event::RootExited) => {
                    if self.stop_leftovers && grace_end.is_none() {
                        grace_end = Some(Instant::now() + GRACE);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if deadline.is_some_and(|d| now >= d) {
                        self.terminate(events);
                        return;
                    }
                    grace_end = None;
                    let stopped = self.tasks.signal_live(Signal::SIGKILL, self.tracer);
                    if let Ok(mut leftovers) = self.tasks.leftovers.lock() {
                        leftovers.extend(stopped);
                    }
                }
            }
        }
    }

    /// The timeout: TERM to the group and every traced task, then KILL after 2 s.
    fn terminate(&self, events: &mpsc::Receiver<Event>) {
        self.tasks.timed_out.store(true, Ordering::SeqCst);
        self.signal(Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            match events.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
            }
        }
        self.signal(Signal::SIGKILL);
    }

    fn signal(&self, signal: Signal) {
        if self.own_group {
            let _ = killpg(self.root, signal);
        } else {
            let _ = kill(self.root, signal);
        }
        self.tasks.signal_live(signal, self.tracer);
    }
}
