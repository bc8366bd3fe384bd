//! Which of the modes of the module documentation this process is in.

use super::untraced::NoTracer;

/// Set in the child's environment to the full name of the test it must run.
pub const CHILD_ENV: &str = "LEAKCHECK_LEAK_FREE_CHILD";
/// Set in the child's environment to the nonce its marker lines carry.
pub const NONCE_ENV: &str = "LEAKCHECK_LEAK_FREE_NONCE";
/// Set by `cargo leakcheck` in every test process it traces.
pub const TRACED_ENV: &str = "LEAKCHECK_TRACED";

/// What [`run`](super::run) does.
pub(super) enum Mode {
    /// Plain `cargo test`: re-run this test traced and judge it.
    #[cfg(target_os = "linux")]
    Parent,
    /// The traced re-run of this test, with the nonce of its marker lines.
    Child(String),
    /// Something traces this process already: run the body.
    Traced,
    /// There is no tracer here (another platform than Linux): run the body untraced.
    Untraced(NoTracer),
}

/// The mode for `test_name`, from [`CHILD_ENV`], [`NONCE_ENV`], [`TRACED_ENV`] and
/// whether a tracer is attached.
pub(super) fn mode(test_name: &str) -> Mode {
    if let (Some(child), Some(nonce)) = (std::env::var_os(CHILD_ENV), std::env::var_os(NONCE_ENV)) {
        if child == test_name {
            return Mode::Child(nonce.to_string_lossy().into_owned());
        }
        // Some other test of the child, or a nested call: it is traced by the parent.
        return Mode::Traced;
    }
    let flag = std::env::var_os(TRACED_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    if flag || tracer_pid().is_some_and(|pid| pid != 0) {
        Mode::Traced
    } else {
        untraced_or_parent()
    }
}

#[cfg(target_os = "linux")]
fn untraced_or_parent() -> Mode {
    NoTracer::here().map_or(Mode::Parent, Mode::Untraced)
}

#[cfg(not(target_os = "linux"))]
fn untraced_or_parent() -> Mode {
    Mode::Untraced(NoTracer::platform())
}

/// `TracerPid` of `/proc/self/status`: non-zero when something traces this process.
fn tracer_pid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
}
