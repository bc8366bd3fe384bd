//! `cargo leakcheck` where there is no tracer: every platform but Linux (and Linux with
//! `LEAKCHECK_SIMULATE_NO_TRACER`, so that this path is tested where it does not apply).
//! It says why and how to get a verdict, and exits 2 (a setup error): a run that traced
//! nothing must not look like a clean one.

use crate::exit;
use leakcheck::leak_free::{NoTracer, REQUIRE_ENV};

/// Where this process has no tracer, says so on stderr and returns the exit status; None
/// where there is one.
pub fn refuse_without_tracer() -> Option<u8> {
    let no_tracer = NoTracer::here()?;
    eprint!("{}", message(&no_tracer));
    Some(exit::SETUP)
}

/// The whole program where no tracer can exist.
#[cfg(not(target_os = "linux"))]
pub fn main_entry() -> u8 {
    refuse_without_tracer().unwrap_or(exit::SETUP)
}

/// What the user reads.
fn message(no_tracer: &NoTracer) -> String {
    format!(
        "error: cargo leakcheck cannot run here: {}\n\
         (hint: run it on Linux: in CI with the leakcheck GitHub Action on ubuntu-latest, in a Linux VM or container, or in WSL 2 on Windows; under plain `cargo test` here, #[leak_free] tests run untraced, and {REQUIRE_ENV}=1 makes them fail instead)\n",
        no_tracer.why()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_where_leakcheck_runs() {
        let text = message(&NoTracer::platform());
        assert!(
            text.starts_with(&format!(
                "error: cargo leakcheck cannot run here: no tracer on {}: leakcheck traces with ptrace and seccomp (or strace), on Linux only\n",
                std::env::consts::OS
            )),
            "{text}"
        );
        assert!(
            text.contains("WSL 2") && text.contains("LEAKCHECK_REQUIRE=1"),
            "{text}"
        );
        // Not set in this test process: Linux has a tracer.
        if std::env::var_os(leakcheck::leak_free::SIMULATE_ENV).is_none() {
            assert_eq!(refuse_without_tracer().is_none(), cfg!(target_os = "linux"));
        }
    }
}
