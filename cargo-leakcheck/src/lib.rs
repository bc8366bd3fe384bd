//! `cargo leakcheck`: a per-test network leak verdict for every test of a workspace.
//!
//! The binary is a thin shell over the library so that the end-to-end tests can build
//! the very same command.
//!
//! The stages, in the order a run goes through them: [`cli`] turns the command line
//! into plain options; [`cargo`] reads the workspace and builds the tests;
//! [`policy_layers`] stacks the policy; [`run`] plans and traces the tests and decides
//! their verdicts; [`reporter`] shows them and gives the exit status. [`nextest`] writes
//! the configuration that runs cargo-nextest's tests under `cargo leakcheck wrap`
//! ([`run::wrap`]). [`process`] starts the CLI's own subprocesses; [`error`] is every way
//! a run stops short. On other platforms than Linux only [`other_platform`] is there: it
//! says why nothing can run.

#![warn(missing_docs)]

#[cfg(target_os = "linux")]
pub mod cargo;
#[cfg(target_os = "linux")]
pub mod cli;
#[cfg(target_os = "linux")]
pub mod error;
pub mod exit;
#[cfg(target_os = "linux")]
pub mod nextest;
pub mod other_platform;
#[cfg(target_os = "linux")]
pub mod policy_layers;
#[cfg(target_os = "linux")]
pub mod process;
#[cfg(target_os = "linux")]
pub mod reporter;
#[cfg(target_os = "linux")]
pub mod run;
#[cfg(target_os = "linux")]
pub mod self_test;
pub mod timings;

#[cfg(not(target_os = "linux"))]
pub use other_platform::main_entry;

/// The whole program: parses `std::env::args_os()` and returns the exit status. An
/// error that stops a run is printed here and nowhere else.
#[cfg(target_os = "linux")]
pub fn main_entry() -> u8 {
    timings::start();
    if let Some(code) = other_platform::refuse_without_tracer() {
        return code;
    }
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // cargo runs `cargo-leakcheck leakcheck ARGS...` for `cargo leakcheck ARGS...`.
    if args.get(1).is_some_and(|a| a == "leakcheck") {
        args.remove(1);
    }
    if let Some(code) = self_test::hidden_entry(&args) {
        return code;
    }
    let result = cli::parse(args).and_then(|invocation| match invocation {
        cli::Invocation::Tests(options, output) => run::suite::run(*options, output),
        cli::Invocation::Command(options, output) => run::command::run(options, output),
        cli::Invocation::SelfTest => self_test::run(),
        cli::Invocation::Wrap(options, output) => run::wrap::run(options, output),
        cli::Invocation::NextestConfig(config) => {
            print!("{}", config.toml());
            Ok(exit::CLEAN)
        }
        cli::Invocation::Exit(code) => Ok(code),
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            if !error.already_reported() {
                eprintln!("error: {error}");
            }
            error.exit_code()
        }
    }
}
