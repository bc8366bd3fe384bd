//! The reporter: the one owner of what `cargo leakcheck` writes to stdout and stderr,
//! of colour, of the report files (JSON, JUnit, GitHub's job summary), of the closing
//! summary and of the exit status. It is fed [`Event`]s by the runner
//! ([`crate::run`]) and words them in one of the formats: [`human`] (libtest's lines),
//! [`json`] (`--message-format json`), [`junit`] (`--junit`), [`github`] (annotations
//! and a job summary inside GitHub Actions).

pub mod events;
pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod self_test;
pub mod summary;

pub use events::{Event, Shown, TracingAlone};

use crate::error::Error;
use github::GitHub;
use human::Human;
use leakcheck::report::Report;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use summary::Summary;

/// `--message-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MessageFormat {
    /// libtest's lines on stdout, leakcheck's own on stderr.
    #[default]
    Human,
    /// One JSON object per finished test on stdout, nothing on stderr.
    Json,
}

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (and not empty).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout: decided once, here.
    fn colors(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::IsTerminal::is_terminal(&std::io::stdout())
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// What the reporter writes, and where.
#[derive(Debug, Clone, Default)]
pub struct ReporterOptions {
    /// `--message-format`.
    pub format: MessageFormat,
    /// `--color`.
    pub color: ColorChoice,
    /// `--junit PATH`.
    pub junit: Option<PathBuf>,
    /// `--report PATH` (else the run's default).
    pub report: Option<PathBuf>,
    /// `--leaks-only`: a failing test or command does not fail the run.
    pub leaks_only: bool,
    /// libtest's terse format (`-q`, or `--format terse` after `--`).
    pub terse: bool,
    /// cargo's `-q`: no `Running ...` headers, none of leakcheck's progress lines.
    pub quiet: bool,
    /// `--verbose`: every test's streams through the stand-in proxy, not only a failing
    /// test's.
    pub verbose: bool,
}

/// Which command is reported: they close differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cargo leakcheck`: the summary line closes it.
    Tests,
    /// `cargo leakcheck run`: the verdict is the summary.
    Command,
    /// `cargo leakcheck wrap`: one test inside a runner's run; only a failing verdict or a
    /// warning is worth a line (on stderr), and the runner says the rest.
    Wrap,
}

/// Writes everything a run shows; see the module's doc.
pub struct Reporter {
    options: ReporterOptions,
    mode: Mode,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    /// None in JSON mode, where only the JSON lines are written.
    human: Option<Human>,
    github: Option<GitHub>,
    report: Report,
    started: Instant,
}

impl Reporter {
    /// The reporter of `cargo leakcheck`, writing to this process's stdout and stderr.
    pub fn for_tests(options: ReporterOptions) -> Reporter {
        Reporter::to_std(options, Mode::Tests)
    }

    /// The reporter of `cargo leakcheck run` (human text, no colour).
    pub fn for_command(options: ReporterOptions) -> Reporter {
        Reporter::to_std(options, Mode::Command)
    }

    /// The reporter of `cargo leakcheck wrap` (human text on stderr, no colour).
    pub fn for_wrap(options: ReporterOptions) -> Reporter {
        Reporter::to_std(options, Mode::Wrap)
    }

    fn to_std(options: ReporterOptions, mode: Mode) -> Reporter {
        let color = options.color.colors();
        Reporter::new(
            options,
            mode,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            GitHub::from_env(),
            color,
        )
    }

    fn new(
        options: ReporterOptions,
        mode: Mode,
        out: Box<dyn Write>,
        err: Box<dyn Write>,
        github: Option<GitHub>,
        color: bool,
    ) -> Reporter {
        let layout = human::Layout {
            terse: options.terse,
            quiet: options.quiet,
            verbose: options.verbose,
        };
        let human = (mode != Mode::Tests || options.format == MessageFormat::Human)
            .then(|| Human::new(color, layout));
        Reporter {
            options,
            mode,
            out,
            err,
            human,
            github,
            report: Report::default(),
            started: Instant::now(),
        }
    }

    /// Shows one event, and keeps what the report needs of it.
    pub fn report(&mut self, event: Event<'_>) {
        let (out, err) = (&mut *self.out, &mut *self.err);
        match self.human.as_mut() {
            Some(human) => human.show(&event, out, err),
            None => {
                if let Event::TestFinished { entry, .. } = &event {
                    let _ = writeln!(out, "{}", json::test_line(entry));
                }
            }
        }
        match event {
            Event::BinaryFinished { tests, own, .. } => {
                self.report.tests.extend(tests);
                self.report.binaries.extend(own);
            }
            Event::CommandFinished { entry, .. } | Event::WrapFinished { entry } => {
                self.report.tests.push(entry)
            }
            Event::Amended { index, finding, .. } => {
                if let Some(entry) = self.report.tests.get_mut(index) {
                    let mut verdict = entry.verdict();
                    verdict.findings.push(finding);
                    verdict.findings.sort_by_key(|f| f.severity);
                    verdict.settle();
                    entry.set_verdict(verdict);
                }
            }
            _ => {}
        }
        // A line is shown as soon as it is known, as libtest does.
        let _ = self.out.flush();
        let _ = self.err.flush();
    }

    /// The entries of every test so far, in order.
    pub fn tests(&self) -> &[leakcheck::report::TestReport] {
        &self.report.tests
    }

    /// Writes the report (to `--report`, else `default_report`), JUnit and GitHub's
    /// output, and the closing lines; returns the exit status of DESIGN.md.
    pub fn finish(mut self, default_report: &Path) -> Result<u8, Error> {
        let path = self
            .options
            .report
            .clone()
            .unwrap_or_else(|| default_report.to_path_buf());
        self.report.write(&path).map_err(|e| {
            Error::Write(format!(
                "cannot write the report to {}: {e}",
                path.display()
            ))
        })?;
        let summary = Summary::of(&self.report);
        let written = format!("leakcheck: report written to {}", path.display());
        match self.mode {
            Mode::Tests => {
                if let Some(junit) = &self.options.junit {
                    junit::write_junit(&self.report, junit).map_err(Error::Write)?;
                }
                self.emit_github();
                if self.human.is_some() {
                    let _ = writeln!(self.err, "{}", summary.line(self.started.elapsed()));
                    if self.options.verbose
                        || std::env::var_os("LEAKCHECK_TIMINGS").is_some_and(|v| v != "0")
                    {
                        let _ = write!(self.err, "{}", crate::timings::render());
                    }
                    let _ = writeln!(self.err, "{written}");
                }
            }
            Mode::Command => {
                let _ = writeln!(self.err, "{written}");
                self.emit_github();
            }
            // Every test writes its own report; the runner's output is not cluttered with
            // where, and GitHub's annotations would be buried in captured output.
            Mode::Wrap => {}
        }
        let _ = self.out.flush();
        let _ = self.err.flush();
        Ok(summary.exit_code(self.options.leaks_only))
    }

    fn emit_github(&mut self) {
        if let Some(github) = &self.github {
            github.emit(&self.report, &mut *self.out, &mut *self.err);
        }
    }
}

#[cfg(test)]
mod tests;
