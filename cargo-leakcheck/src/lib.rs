//! `cargo leakcheck`: a per-test network leak verdict for every test of a workspace.
//!
//! The binary is a thin shell over the library so that the end-to-end tests can build
//! the very same command.

pub mod cargo;
pub mod cli;
pub mod error;
pub mod policy_layers;
pub mod process;
pub mod reporter;
pub mod run;

/// Exit statuses of DESIGN.md.
pub mod exit {
    /// No leaks and no failures.
    pub const CLEAN: u8 = 0;
    /// At least one leak or unverified verdict.
    pub const LEAKED: u8 = 1;
    /// Usage, configuration, build or setup error.
    pub const SETUP: u8 = 2;
    /// Tests failed but nothing leaked.
    pub const TEST_FAILED: u8 = 101;
}

/// The whole program: parses `std::env::args_os()` and returns the exit status. An
/// error that stops a run is printed here and nowhere else.
pub fn main_entry() -> u8 {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // cargo runs `cargo-leakcheck leakcheck ARGS...` for `cargo leakcheck ARGS...`.
    if args.get(1).is_some_and(|a| a == "leakcheck") {
        args.remove(1);
    }
    let result = cli::parse(args).and_then(|invocation| match invocation {
        cli::Invocation::Tests(options, output) => run::tests(*options, output),
        cli::Invocation::Command(options, output) => run::command::run(options, output),
        cli::Invocation::Exit(code) => Ok(code),
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}
