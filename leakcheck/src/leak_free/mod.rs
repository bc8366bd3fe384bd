//! The run-time side of `#[leak_free]`: what an annotated test does when it runs.
//!
//! The attribute turns the test's body into a closure (or an `async` block) and calls
//! [`run`] (or [`run_async`]) with a [`Spec`] describing the test. Not a stable API: the
//! macro's expansion is its only intended caller.
//!
//! # Modes
//!
//! [`run`] does one of four things:
//!
//! * **Parent** (plain `cargo test`): re-runs only this test in a child process of the test
//!   binary, traced by strace, and judges the trace. The child's command line is built
//!   from scratch: `<current_exe> <full test name> --exact --test-threads 1 --nocapture
//!   --include-ignored`, never copied from the parent's arguments (which would break under
//!   nextest or with new libtest flags). Its environment gets [`CHILD_ENV`] (the test
//!   name) and [`NONCE_ENV`] (a fresh nonce).
//! * **Child** ([`CHILD_ENV`] names this test): writes a marker line with the nonce, runs
//!   the body, and writes a line saying how the body ended (passed, panicked with a
//!   message, returned an error), then ends exactly as the body did. The marker proves to
//!   the parent that the body ran: a name that matched no test fails rather than passes.
//! * **Already traced** (`LEAKCHECK_TRACED` is set, as `cargo leakcheck` does, or
//!   `/proc/self/status` shows a tracer): runs the body directly, and when
//!   [`ATTRIBUTE_POLICY_ENV`] names a file, writes the attribute's own policy there so
//!   that `cargo leakcheck` applies it to its verdict. When the run's stand-in proxy
//!   (`LEAKCHECK_STAND_IN`, set by `cargo leakcheck`) is not the one the attribute needs
//!   (`stand-in = ...`, or endpoints of its `allow` the stand-in does not serve), it runs
//!   no body, fails, and says why in that file: `cargo leakcheck` runs the test again
//!   with that stand-in (see `offer`).
//! * **Untraced** (no tracer: another platform than Linux, or [`SIMULATE_ENV`]): runs
//!   the body untraced and says so once per process on stderr; under [`REQUIRE_ENV`]
//!   the test fails instead (a `#[should_panic]` test by not panicking), see
//!   `untraced`.
//!
//! # The parent's decision
//!
//! * the verdict is `leaked` or `unverified`: the test fails with the leak report
//!   (every finding and the allow list in force), whatever the body did; a
//!   `#[should_panic]` test fails by *not* panicking, so that the expected panic cannot
//!   hide the leak;
//! * otherwise the test ends as the body did: the same panic message (so that
//!   `#[should_panic(expected = "...")]` matches), a panic with the error's text for a
//!   `Result` body that returned `Err`, success otherwise. The child's output is printed,
//!   so that libtest shows it with a failure.
//!
//! The policy is the crate's `Cargo.toml` metadata (workspace and package layers, read
//! with `cargo metadata` once per test binary), then `LEAKCHECK_ALLOW`, then the
//! attribute's own arguments, resolved for the test's name.
//!
//! `LEAKCHECK_ISOLATE_NETWORK=1` runs the child in a fresh network namespace (as
//! `--isolate-network` does) and `LEAKCHECK_TIMEOUT=SECONDS` bounds it. With
//! `stand-in = ...` (the attribute's, else the metadata's) the child runs in the stand-in
//! proxy's namespace instead (which implies the isolation), and its streams and their
//! findings are in the report.
//!
//! # Files
//!
//! Each depends only on the ones before it: `spec` (what the macro hands over),
//! `untraced` (where there is no tracer), `mode` (which mode, from the environment),
//! `attribute` (the attribute's policy and its file), `offer` (whether the run's stand-in
//! fits the test), `frames` (the marker lines), `outcome` (the parent's decision and its
//! text), `rerun` (the parent's traced re-run; `offer`, `outcome` and `rerun` exist on
//! Linux only); this file dispatches on the mode.

mod attribute;
mod frames;
mod mode;
#[cfg(target_os = "linux")]
mod offer;
#[cfg(target_os = "linux")]
mod outcome;
#[cfg(target_os = "linux")]
mod rerun;
mod spec;
mod untraced;

#[cfg(target_os = "linux")]
pub use crate::standin::STAND_IN_ENV;
pub use attribute::{read_attribute_policy, AttributePolicy, ATTRIBUTE_POLICY_ENV};
pub use mode::{CHILD_ENV, NONCE_ENV, TRACED_ENV};
#[cfg(target_os = "linux")]
pub use rerun::{ISOLATE_ENV, TIMEOUT_ENV};
pub use spec::{Spec, TestResult};
pub use untraced::{NoTracer, REQUIRE_ENV, SIMULATE_ENV};

use attribute::hand_over_policy;
use frames::{announce, finish};
use mode::{mode, Mode};
#[cfg(target_os = "linux")]
use rerun::parent;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use untraced::{untraced, Untraced};

/// Runs a synchronous test body under the mode the process is in (see the module docs).
#[track_caller]
pub fn run<R: TestResult, F: FnOnce() -> R>(spec: &Spec, body: F) -> R {
    let name = spec.test_name();
    match mode(&name) {
        Mode::Child(nonce) => {
            announce(&nonce, &name);
            let result = catch_unwind(AssertUnwindSafe(body));
            finish(&nonce, result)
        }
        Mode::Traced => {
            let rerun = stand_in_mismatch(spec, &name);
            hand_over_policy(spec, &name, rerun.as_deref());
            match rerun {
                None => body(),
                #[cfg(target_os = "linux")]
                Some(why) => offer::not_here(&name, spec.should_panic, &why),
                #[cfg(not(target_os = "linux"))]
                Some(_) => body(),
            }
        }
        #[cfg(target_os = "linux")]
        Mode::Parent => parent(spec, &name),
        Mode::Untraced(why) => match untraced(&name, spec.should_panic, &why) {
            Untraced::Run => body(),
            Untraced::Refuse => R::success(),
        },
    }
}

/// [`run`] for an `async` body (under `#[tokio::test]` and the like): the parent's work
/// blocks the runtime's thread, which runs nothing else meanwhile.
pub async fn run_async<R: TestResult, F: Future<Output = R>>(spec: &Spec, body: F) -> R {
    let name = spec.test_name();
    match mode(&name) {
        Mode::Child(nonce) => {
            announce(&nonce, &name);
            let result = CatchUnwind(Box::pin(body)).await;
            finish(&nonce, result)
        }
        Mode::Traced => {
            let rerun = stand_in_mismatch(spec, &name);
            hand_over_policy(spec, &name, rerun.as_deref());
            match rerun {
                None => body.await,
                #[cfg(target_os = "linux")]
                Some(why) => offer::not_here(&name, spec.should_panic, &why),
                #[cfg(not(target_os = "linux"))]
                Some(_) => body.await,
            }
        }
        #[cfg(target_os = "linux")]
        Mode::Parent => parent(spec, &name),
        Mode::Untraced(why) => match untraced(&name, spec.should_panic, &why) {
            Untraced::Run => body.await,
            Untraced::Refuse => R::success(),
        },
    }
}

/// Why the run's stand-in proxy does not fit the test (then its body must not run), on
/// Linux, where `cargo leakcheck` offers one.
fn stand_in_mismatch(spec: &Spec, name: &str) -> Option<String> {
    #[cfg(target_os = "linux")]
    return offer::mismatch(spec, name);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (spec, name);
        None
    }
}

/// A future that turns a panic while polling into an `Err`, as `catch_unwind` does.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
