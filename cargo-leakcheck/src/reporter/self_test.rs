//! What `cargo leakcheck self-test` shows: a table (kind, tracer, control detected, twin
//! clean), the details of every failure, what was skipped and what this machine lacks
//! (with the fix), a closing line, and the exit status:
//!
//! * 1 when a control that ran was missed or a twin that ran was flagged: leakcheck
//!   cannot be trusted here;
//! * else 2 when the default tracer (the one `cargo leakcheck` would use here) did not
//!   run all of its controls, or there is none: a setup problem, named with its fix;
//! * else 0. Tracers other than the default that cannot run here (strace missing) are
//!   reported as skipped, with the fix, and do not fail the self-test.

use crate::exit;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;

/// The result of one control or one twin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result", content = "detail")]
pub enum Check {
    /// A control was detected; a twin was clean.
    Pass,
    /// A control was missed or a twin flagged (or its program did not run as it should):
    /// what was seen.
    Fail(String),
    /// It could not run on this machine: why.
    Skipped(String),
}

/// One kind under one tracer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The kind (`connect`, `dns`, ...).
    pub kind: String,
    /// The tracer's label (`native`, `native-ptrace`, `strace`).
    pub tracer: String,
    /// The positive control.
    pub control: Check,
    /// Its clean twin.
    pub twin: Check,
}

/// Something this machine lacks, and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lack {
    /// What is missing, and what it costs.
    pub what: String,
    /// The fix.
    pub fix: String,
}

/// One tracer of the self-test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerLine {
    /// Its label in the table.
    pub label: String,
    /// What it is.
    pub about: String,
}

/// Everything the self-test found.
#[derive(Debug, Clone, Default)]
pub struct SelfTestReport {
    /// The tracers, in the table's order.
    pub tracers: Vec<TracerLine>,
    /// The label of the tracer `cargo leakcheck` uses by default here (None: none can
    /// run).
    pub default_tracer: Option<String>,
    /// Every kind under every tracer.
    pub rows: Vec<Row>,
    /// What the machine lacks.
    pub lacks: Vec<Lack>,
    /// How long it took.
    pub elapsed: Duration,
}

impl SelfTestReport {
    /// Every check: its row, whether it is the control (else the twin), and the check.
    fn checks(&self) -> impl Iterator<Item = (&Row, bool, &Check)> {
        self.rows
            .iter()
            .flat_map(|row| [(row, true, &row.control), (row, false, &row.twin)])
    }

    fn missed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.control, Check::Fail(_)))
            .count()
    }

    fn flagged(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.twin, Check::Fail(_)))
            .count()
    }

    /// Whether the default tracer ran every control and every twin.
    fn default_complete(&self) -> bool {
        let Some(default) = &self.default_tracer else {
            return false;
        };
        let mut rows = self.rows.iter().filter(|r| &r.tracer == default).peekable();
        rows.peek().is_some()
            && rows.all(|r| {
                !matches!(r.control, Check::Skipped(_)) && !matches!(r.twin, Check::Skipped(_))
            })
    }

    /// Whether every row of `tracer` was skipped for one and the same reason.
    fn skipped_altogether(&self, tracer: &str) -> bool {
        let mut reasons = self
            .rows
            .iter()
            .filter(|r| r.tracer == tracer)
            .flat_map(|r| [&r.control, &r.twin]);
        match reasons.next() {
            Some(Check::Skipped(first)) => {
                reasons.all(|c| matches!(c, Check::Skipped(why) if why == first))
            }
            _ => false,
        }
    }

    /// The exit status (see the module's doc).
    pub fn exit_code(&self) -> u8 {
        if self.missed() + self.flagged() > 0 {
            exit::LEAKED
        } else if !self.default_complete() {
            exit::SETUP
        } else {
            exit::CLEAN
        }
    }

    /// Everything the self-test prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "leakcheck self-test: a control of every kind and its clean twin, each traced in a fresh network namespace"
        );
        for tracer in &self.tracers {
            let default = if self.default_tracer.as_ref() == Some(&tracer.label) {
                " (the default here)"
            } else {
                ""
            };
            let _ = writeln!(out, "  {:<14} {}{default}", tracer.label, tracer.about);
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<22} {:<14} {:<9} clean twin",
            "kind", "tracer", "control"
        );
        // A tracer skipped altogether for one reason takes one line.
        let whole: Vec<&str> = self
            .tracers
            .iter()
            .map(|t| t.label.as_str())
            .filter(|label| self.skipped_altogether(label))
            .collect();
        for row in self
            .rows
            .iter()
            .filter(|r| !whole.contains(&r.tracer.as_str()))
        {
            let control = match row.control {
                Check::Pass => "detected",
                Check::Fail(_) => "MISSED",
                Check::Skipped(_) => "skipped",
            };
            let twin = match row.twin {
                Check::Pass => "clean",
                Check::Fail(_) => "FLAGGED",
                Check::Skipped(_) => "skipped",
            };
            let _ = writeln!(
                out,
                "{:<22} {:<14} {control:<9} {twin}",
                row.kind, row.tracer
            );
        }
        for label in whole {
            let _ = writeln!(
                out,
                "{:<22} {label:<14} {:<9} skipped",
                "(every kind)", "skipped"
            );
        }
        self.render_failures(&mut out);
        self.render_skipped(&mut out);
        if !self.lacks.is_empty() {
            let _ = writeln!(out, "\nthis machine lacks:");
            for lack in &self.lacks {
                let _ = writeln!(out, "  {}", lack.what);
                let _ = writeln!(out, "    fix: {}", lack.fix);
            }
        }
        let _ = writeln!(out, "\n{}", self.closing_line());
        out
    }

    fn render_failures(&self, out: &mut String) {
        let failures: Vec<_> = self
            .checks()
            .filter_map(|(row, is_control, check)| match check {
                Check::Fail(why) => Some((row, is_control, why)),
                _ => None,
            })
            .collect();
        if failures.is_empty() {
            return;
        }
        let _ = writeln!(out, "\nfailures:");
        for (row, is_control, why) in failures {
            let what = if is_control {
                "control MISSED"
            } else {
                "clean twin FLAGGED"
            };
            let _ = writeln!(out, "\n---- {} under {}: {what}", row.kind, row.tracer);
            let _ = writeln!(out, "{}", why.trim_end());
        }
    }

    fn render_skipped(&self, out: &mut String) {
        // One line per reason, naming the tracers it applies to.
        let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
        for (row, _, check) in self.checks() {
            let Check::Skipped(why) = check else { continue };
            match reasons.iter_mut().find(|(r, _)| *r == why) {
                Some((_, tracers)) => {
                    if !tracers.contains(&row.tracer.as_str()) {
                        tracers.push(&row.tracer);
                    }
                }
                None => reasons.push((why, vec![&row.tracer])),
            }
        }
        if reasons.is_empty() {
            return;
        }
        let _ = writeln!(out, "\nskipped:");
        for (why, tracers) in reasons {
            let mut lines = why.trim_end().lines();
            let first = lines.next().unwrap_or_default();
            let _ = writeln!(out, "  {}: {first}", tracers.join(", "));
            for line in lines {
                let _ = writeln!(out, "    {line}");
            }
        }
    }

    fn closing_line(&self) -> String {
        let count = |f: fn(&Check) -> bool| -> (usize, usize) {
            let ran = self.rows.iter().filter(|r| f(&r.control)).count();
            let twins = self.rows.iter().filter(|r| f(&r.twin)).count();
            (ran, twins)
        };
        let (detected, clean) = count(|c| *c == Check::Pass);
        let (skipped, skipped_twins) = count(|c| matches!(c, Check::Skipped(_)));
        let tracers: Vec<&str> = self
            .tracers
            .iter()
            .map(|t| t.label.as_str())
            .filter(|label| {
                self.rows
                    .iter()
                    .any(|r| r.tracer == *label && !matches!(r.control, Check::Skipped(_)))
            })
            .collect();
        let under = if tracers.is_empty() {
            "no tracer: nothing ran".to_string()
        } else {
            tracers.join(", ")
        };
        let head = match self.exit_code() {
            exit::CLEAN => "ok".to_string(),
            exit::LEAKED => "FAILED: leakcheck cannot be trusted on this machine".to_string(),
            _ => match &self.default_tracer {
                Some(default) => format!(
                    "SETUP PROBLEM: the default tracer ({default}) could not run every control (see above)"
                ),
                None => "SETUP PROBLEM: no tracer can run here (see above)".to_string(),
            },
        };
        let skipped = if skipped + skipped_twins > 0 {
            format!("; {} skipped", skipped + skipped_twins)
        } else {
            String::new()
        };
        format!(
            "self-test: {head}. {detected} controls detected ({} missed), {clean} twins clean ({} flagged) under {under}{skipped}; finished in {:.2}s",
            self.missed(),
            self.flagged(),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Prints the report on stdout; returns the exit status.
pub fn show(report: &SelfTestReport) -> u8 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(report.render().as_bytes());
    let _ = out.flush();
    report.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, tracer: &str, control: Check, twin: Check) -> Row {
        Row {
            kind: kind.into(),
            tracer: tracer.into(),
            control,
            twin,
        }
    }

    fn report(rows: Vec<Row>) -> SelfTestReport {
        SelfTestReport {
            tracers: vec![
                TracerLine {
                    label: "native".into(),
                    about: "ptrace and seccomp".into(),
                },
                TracerLine {
                    label: "strace".into(),
                    about: "strace -f".into(),
                },
            ],
            default_tracer: Some("native".into()),
            rows,
            lacks: Vec::new(),
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn all_detected_is_ok() {
        let r = report(vec![
            row("connect", "native", Check::Pass, Check::Pass),
            row("connect", "strace", Check::Pass, Check::Pass),
        ]);
        assert_eq!(r.exit_code(), 0);
        let text = r.render();
        assert!(
            text.contains("connect                native         detected  clean\n"),
            "{text}"
        );
        assert!(text.contains("  native         ptrace and seccomp (the default here)\n"));
        assert!(text.ends_with(
            "self-test: ok. 2 controls detected (0 missed), 2 twins clean (0 flagged) under native, strace; finished in 1.50s\n"
        ), "{text}");
    }

    #[test]
    fn a_miss_fails_whatever_was_skipped() {
        let mut r = report(vec![
            row(
                "dns",
                "native",
                Check::Fail("no dns leak".into()),
                Check::Pass,
            ),
            row(
                "dns",
                "strace",
                Check::Skipped("strace was not found".into()),
                Check::Skipped("strace was not found".into()),
            ),
        ]);
        r.lacks.push(Lack {
            what: "strace".into(),
            fix: "sudo apt-get install strace".into(),
        });
        assert_eq!(r.exit_code(), 1);
        let text = r.render();
        assert!(text.contains("dns                    native         MISSED    clean\n"));
        assert!(text.contains("\n---- dns under native: control MISSED\nno dns leak\n"));
        assert!(
            text.contains("\nskipped:\n  strace: strace was not found\n"),
            "{text}"
        );
        assert!(text
            .contains("\nthis machine lacks:\n  strace\n    fix: sudo apt-get install strace\n"));
        assert!(text.contains("self-test: FAILED"), "{text}");
        let twin = report(vec![row(
            "send",
            "native",
            Check::Pass,
            Check::Fail("x".into()),
        )]);
        assert_eq!(twin.exit_code(), 1);
        assert!(twin
            .render()
            .contains("send under native: clean twin FLAGGED"));
    }

    #[test]
    fn skips_of_the_default_tracer_are_a_setup_problem() {
        let skipped = || Check::Skipped("cannot isolate the network".into());
        let r = report(vec![
            row("connect", "native", skipped(), skipped()),
            row("connect", "strace", skipped(), skipped()),
        ]);
        assert_eq!(r.exit_code(), 2);
        let text = r.render();
        assert!(
            text.contains("\nskipped:\n  native, strace: cannot isolate the network\n"),
            "{text}"
        );
        assert!(
            text.contains("SETUP PROBLEM: the default tracer (native)"),
            "{text}"
        );
        // Another tracer's skips do not fail.
        let r = report(vec![
            row("connect", "native", Check::Pass, Check::Pass),
            row("connect", "strace", skipped(), skipped()),
        ]);
        assert_eq!(r.exit_code(), 0);
        // No tracer at all.
        let mut none = report(Vec::new());
        none.default_tracer = None;
        assert_eq!(none.exit_code(), 2);
        assert!(none.render().contains("no tracer can run here"));
    }
}
