//! Tracing backends: run a program and hand every event to an [`Observer`] as it is
//! traced.
//!
//! Two backends sit behind [`Tracer`]: [`StraceBackend`] runs strace and parses its text
//! into events ([`crate::syntax`]), and [`NativeBackend`](crate::native::NativeBackend)
//! traces with ptrace and its own seccomp filter and builds the events from the calls it
//! stops, at a fraction of the cost. [`Backend::select`] picks one (`LEAKCHECK_TRACER`);
//! the judge never knows which.
//!
//! Files: `run.rs`, what a run takes and gives ([`TracedCommand`], [`RunResult`],
//! [`TraceError`]); `process.rs`, starting and ending the traced process, shared by both
//! backends; `strace.rs`, the strace backend; `isolate.rs`, `--isolate-network`; `sandbox.rs`, a
//! namespace made before the run (the stand-in proxy's).

pub mod isolate;
pub mod native;
pub(crate) mod process;
mod run;
pub mod sandbox;
mod strace;

pub use crate::leftover::Leftover;
pub use run::{Observer, ProgramStatus, RunResult, TraceError, TracedCommand, Tracer};
pub use strace::{StraceBackend, TRACED_SYSCALLS};

/// The backend to trace with, chosen once per run.
#[derive(Debug, Clone)]
pub enum Backend {
    /// ptrace and leakcheck's own seccomp filter.
    Native(crate::native::NativeBackend),
    /// strace.
    Strace(StraceBackend),
}

impl Backend {
    /// Picks the backend: `choice` (`native` or `strace`, from `--tracer` or
    /// `LEAKCHECK_TRACER`) when given; else strace when `LEAKCHECK_STRACE` names one, the
    /// native backend where it runs (Linux on x86_64 or aarch64), and strace elsewhere.
    pub fn select(choice: Option<&str>) -> Result<Backend, TraceError> {
        let env = std::env::var("LEAKCHECK_TRACER").ok();
        let choice = choice.or(env.as_deref()).filter(|c| !c.is_empty());
        match choice {
            Some("strace") => StraceBackend::locate().map(Backend::Strace),
            Some("native") => crate::native::NativeBackend::new()
                .map(Backend::Native)
                .ok_or_else(|| {
                    TraceError::Ptrace(
                        "the native tracer runs on Linux x86_64 and aarch64 only\n(hint: LEAKCHECK_TRACER=strace)"
                            .to_string(),
                    )
                }),
            Some(other) => Err(TraceError::UnknownTracer(other.to_string())),
            None if std::env::var_os("LEAKCHECK_STRACE").is_some() => {
                StraceBackend::locate().map(Backend::Strace)
            }
            None => match crate::native::NativeBackend::new() {
                Some(native) => Ok(Backend::Native(native)),
                None => StraceBackend::locate().map(Backend::Strace),
            },
        }
    }

    /// `native` or `strace`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native(_) => "native",
            Backend::Strace(_) => "strace",
        }
    }
}

impl Tracer for Backend {
    fn run(
        &self,
        cmd: &TracedCommand,
        observer: &mut dyn Observer,
    ) -> Result<RunResult, TraceError> {
        match self {
            Backend::Native(native) => native.run(cmd, observer),
            Backend::Strace(strace) => strace.run(cmd, observer),
        }
    }
}
