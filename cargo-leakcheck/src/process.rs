//! The one way the CLI starts its own subprocesses (cargo, rustc), and the benchmarks
//! theirs: a command that can be printed exactly as it runs.
//!
//! Test binaries are not started here: they run under the tracer, as the library's
//! [`leakcheck::tracer::TracedCommand`] (see [`crate::run::test_command`]).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A program, its arguments, extra environment and working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessBuilder {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
}

impl ProcessBuilder {
    /// A command running `program`.
    pub fn new(program: impl Into<OsString>) -> ProcessBuilder {
        ProcessBuilder {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
        }
    }

    /// cargo: `$CARGO` when cargo runs us, so that the toolchain that runs us builds the
    /// tests; else `cargo`.
    pub fn cargo() -> ProcessBuilder {
        ProcessBuilder::new(cargo_program())
    }

    /// rustc: `$RUSTC` when set and not empty (as cargo itself chooses), else `rustc`.
    pub fn rustc() -> ProcessBuilder {
        let rustc = std::env::var_os("RUSTC")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "rustc".into());
        ProcessBuilder::new(rustc)
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut ProcessBuilder {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut ProcessBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets a variable in the program's environment (on top of ours).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut ProcessBuilder {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Runs the program in `dir`.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut ProcessBuilder {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The program.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments.
    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The standard library's command for this one.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
    }

    /// Runs it to the end with its stdout and stderr captured.
    pub fn output(&self) -> io::Result<Output> {
        self.command().output()
    }

    /// Runs it to the end with its stdout captured and its stderr thrown away (for a
    /// question whose failure only means "no answer").
    pub fn output_without_stderr(&self) -> io::Result<Output> {
        self.command().stderr(Stdio::null()).output()
    }

    /// Runs it to the end with the user's stdout and stderr; returns its status.
    pub fn status(&self) -> io::Result<std::process::ExitStatus> {
        self.command().status()
    }

    /// Runs it to the end with its output thrown away; returns its status.
    pub fn status_quiet(&self) -> io::Result<std::process::ExitStatus> {
        self.command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    }

    /// Starts it with its stdout piped to us and its stderr the user's (cargo's
    /// diagnostics are for the user to read).
    pub fn spawn_reading_stdout(&self) -> io::Result<Child> {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
    }
}

/// The command line as a shell would read it: arguments with spaces or quotes are
/// single-quoted (as the library prints a traced command).
impl fmt::Display for ProcessBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.dir {
            write!(f, "cd {} && ", quote(dir.as_os_str()))?;
        }
        for (key, value) in &self.env {
            write!(f, "{}={} ", key.to_string_lossy(), quote(value))?;
        }
        write!(f, "{}", quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '\'') {
        format!("'{}'", s.replace('\'', r"'\''"))
    } else {
        s.into_owned()
    }
}

/// The cargo program: `$CARGO` when cargo runs us, else `cargo`. Also what a test binary
/// is told in its `CARGO` variable.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_exactly_what_runs() {
        let mut cmd = ProcessBuilder::new("cargo");
        cmd.args(["metadata", "--manifest-path", "/a b/Cargo.toml", ""])
            .env("X", "it's")
            .current_dir("/w");
        assert_eq!(
            cmd.to_string(),
            r"cd /w && X='it'\''s' cargo metadata --manifest-path '/a b/Cargo.toml' ''"
        );
    }

    #[test]
    fn runs_what_it_prints() {
        let mut cmd = ProcessBuilder::new("sh");
        cmd.args(["-c", "echo \"$X\" $0; pwd", "arg"])
            .env("X", "set")
            .current_dir("/");
        let output = cmd.output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "set arg\n/\n");
    }
}
