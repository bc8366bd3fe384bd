//! libtest's own lines, written as libtest writes them (unpadded `test NAME ... ok`, the
//! `failures:` blocks, `test result:` with the true time), so that tools reading
//! `cargo test` output read ours.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A test's line status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `ok`
    Ok,
    /// `FAILED`
    Failed,
    /// `ignored`
    Ignored,
}

/// Prints one binary's run; a no-op in JSON mode.
pub struct Printer {
    quiet: bool,
    color: bool,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    passed: usize,
    failed: Vec<(String, String)>,
    ignored: usize,
}

const GREEN: &str = "\u{1b}[32m";
const RED: &str = "\u{1b}[31m";
const YELLOW: &str = "\u{1b}[33m";
const RESET: &str = "\u{1b}[0m";

impl Printer {
    /// Starts a binary's block: `running N tests`.
    pub fn start(tests: usize, color: bool, quiet: bool) -> Printer {
        if !quiet {
            let s = if tests == 1 { "" } else { "s" };
            println!("\nrunning {tests} test{s}");
        }
        Printer {
            quiet,
            color,
            started: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// One test's line; `failure` is its entry in the `failures:` section.
    pub fn result(&self, name: &str, status: Status, failure: Option<String>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let word = match status {
            Status::Ok => {
                state.passed += 1;
                self.paint(GREEN, "ok")
            }
            Status::Failed => {
                state
                    .failed
                    .push((name.to_string(), failure.unwrap_or_default()));
                self.paint(RED, "FAILED")
            }
            Status::Ignored => {
                state.ignored += 1;
                self.paint(YELLOW, "ignored")
            }
        };
        if !self.quiet {
            println!("test {name} ... {word}");
            let _ = std::io::stdout().flush();
        }
    }

    /// The `failures:` section and `test result:` line; returns whether all passed.
    pub fn finish(self, filtered_out: usize) -> bool {
        let state = self
            .state
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        let ok = state.failed.is_empty();
        if self.quiet {
            return ok;
        }
        let mut out = String::new();
        if !ok {
            out.push_str("\nfailures:\n\n");
            for (name, text) in &state.failed {
                out.push_str(&format!("---- {name} stdout ----\n{text}"));
                if !text.ends_with('\n') {
                    out.push('\n');
                }
                out.push('\n');
            }
            out.push_str("\nfailures:\n");
            for (name, _) in &state.failed {
                out.push_str(&format!("    {name}\n"));
            }
        }
        let word = if ok {
            self.paint(GREEN, "ok")
        } else {
            self.paint(RED, "FAILED")
        };
        out.push_str(&format!(
            "\ntest result: {word}. {} passed; {} failed; {} ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
            state.passed,
            state.failed.len(),
            state.ignored,
            elapsed(self.started.elapsed()),
        ));
        print!("{out}");
        let _ = std::io::stdout().flush();
        ok
    }
}

fn elapsed(d: Duration) -> f64 {
    d.as_secs_f64()
}
