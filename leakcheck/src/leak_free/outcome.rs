//! The parent's decision once the traced re-run has ended, and the text the test shows
//! for it: the report of a leak, the body's own end, or why the re-run told nothing.

use super::frames::{BodyEnd, Transcript};
use crate::report::{render_streams, render_verdict};
use crate::standin::Stream;
use crate::tracer::ProgramStatus;
use crate::verdict::{Verdict, VerdictKind};

/// What the parent test does: print `output` (libtest shows it with a failure), then end.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    /// The body's output, then the report when there is one to show.
    pub(super) output: String,
    /// How the test ends.
    pub(super) end: End,
}

/// How the parent test ends.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum End {
    /// It passes.
    Pass,
    /// It panics with this message, as the body did (so that
    /// `#[should_panic(expected = "...")]` matches), or with `Error: ...` for a body that
    /// returned `Err`.
    Panic(String),
    /// It fails with `leak_free: `NAME`: ` and this text.
    Fail(String),
}

/// What the re-run showed: the child's protocol lines and output, how it ended, the
/// verdict on its trace.
pub(super) struct Rerun<'a> {
    /// The re-run's command line, for messages.
    pub(super) command: String,
    /// Everything the child printed.
    pub(super) output: &'a str,
    /// `output` split along the marker lines.
    pub(super) transcript: &'a Transcript,
    /// How the child process ended.
    pub(super) status: &'a ProgramStatus,
    /// The judge's verdict on the child's trace.
    pub(super) verdict: &'a Verdict,
    /// The streams the stand-in proxy served the child (none without one).
    pub(super) streams: &'a [Stream],
}

/// The parent's decision (module documentation of `leak_free`, "The parent's decision").
pub(super) fn decide(name: &str, should_panic: bool, rerun: &Rerun<'_>) -> Outcome {
    let Rerun {
        command,
        output,
        transcript,
        status,
        verdict,
        streams,
    } = rerun;
    if !transcript.started {
        return Outcome {
            output: String::new(),
            end: End::Fail(format!(
                "the traced re-run did not run the test body: no test named `{name}` ran in `{command}` ({status}).\n\
                 --- output of the re-run:\n{}\n--- verdict:\n{}",
                output.trim_end(),
                render_verdict(verdict, "    ").trim_end()
            )),
        };
    }
    let mut shown = transcript.body_output.clone();

    let body = match (&transcript.end, status) {
        (Some(BodyEnd::Passed), _) => "the test body itself passed".to_string(),
        (Some(BodyEnd::Panicked(msg)), _) => format!("the test body itself panicked: {msg}"),
        (Some(BodyEnd::Error(err)), _) => format!("the test body itself returned Err: {err}"),
        (None, ProgramStatus::TimedOut) => "the test timed out".to_string(),
        (None, status) => format!("the test process ended ({status}) before the body finished"),
    };

    if verdict.verdict.fails() {
        let what = match verdict.verdict {
            VerdictKind::Unverified => "the network use of this test could not be verified",
            _ => "this test leaked",
        };
        let report = render_verdict(verdict, "") + &render_streams(streams, "");
        if should_panic {
            // A #[should_panic] test fails when it does not panic: the leak must not be
            // hidden by the expected panic.
            shown.push_str(&format!(
                "leak_free: `{name}`: {what} ({body}); this #[should_panic] test is failed by not panicking.\n{report}\n"
            ));
            return Outcome {
                output: shown,
                end: End::Pass,
            };
        }
        return Outcome {
            output: shown,
            end: End::Fail(format!("{what} ({body}).\n{report}")),
        };
    }
    if !verdict.findings.is_empty() {
        shown.push_str(&render_verdict(verdict, ""));
        shown.push_str(&render_streams(streams, ""));
    }

    let end = match &transcript.end {
        Some(BodyEnd::Passed) => End::Pass,
        Some(BodyEnd::Panicked(msg)) => End::Panic(msg.clone()),
        Some(BodyEnd::Error(err)) => End::Panic(format!("Error: {err}")),
        None => End::Fail(format!(
            "{body}\n--- output of the re-run:\n{}",
            output.trim_end()
        )),
    };
    Outcome { output: shown, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(end: Option<BodyEnd>) -> Transcript {
        Transcript {
            started: true,
            end,
            body_output: "hello\n".to_string(),
        }
    }

    fn clean() -> Verdict {
        Verdict {
            verdict: VerdictKind::Clean,
            findings: Vec::new(),
            problems: Vec::new(),
            allow: Vec::new(),
        }
    }

    fn outcome(t: &Transcript, verdict: &Verdict, should_panic: bool) -> Outcome {
        let rerun = Rerun {
            command: "bin t --exact".to_string(),
            output: "raw output\n",
            transcript: t,
            status: &ProgramStatus::Exited(0),
            verdict,
            streams: &[],
        };
        decide("t", should_panic, &rerun)
    }

    #[test]
    fn a_clean_test_ends_as_its_body() {
        let o = outcome(&transcript(Some(BodyEnd::Passed)), &clean(), false);
        assert_eq!((o.output.as_str(), o.end), ("hello\n", End::Pass));
        let o = outcome(
            &transcript(Some(BodyEnd::Panicked("boom".into()))),
            &clean(),
            false,
        );
        assert_eq!(o.end, End::Panic("boom".into()));
        let o = outcome(
            &transcript(Some(BodyEnd::Error("\"e\"".into()))),
            &clean(),
            false,
        );
        assert_eq!(o.end, End::Panic("Error: \"e\"".into()));
        let o = outcome(&transcript(None), &clean(), false);
        assert_eq!(
            o.end,
            End::Fail(
                "the test process ended (exit status 0) before the body finished\n--- output of the re-run:\nraw output"
                    .into()
            )
        );
    }

    #[test]
    fn a_failing_verdict_fails_the_test_whatever_the_body_did() {
        let unverified = Verdict::unobserved("the tracer died", Vec::new());
        let o = outcome(&transcript(Some(BodyEnd::Passed)), &unverified, false);
        assert_eq!(o.output, "hello\n");
        let End::Fail(text) = o.end else {
            panic!("{o:?}")
        };
        assert!(text.starts_with("the network use of this test could not be verified (the test body itself passed).\n"), "{text}");
        // A #[should_panic] test is failed by not panicking, with the report printed.
        let o = outcome(
            &transcript(Some(BodyEnd::Panicked("x".into()))),
            &unverified,
            true,
        );
        assert_eq!(o.end, End::Pass);
        assert!(o.output.starts_with("hello\nleak_free: `t`: the network use of this test could not be verified (the test body itself panicked: x); this #[should_panic] test is failed by not panicking.\n"), "{}", o.output);
    }

    #[test]
    fn a_rerun_that_ran_no_body_fails() {
        let t = Transcript::default();
        let o = outcome(&t, &clean(), false);
        assert_eq!(o.output, "");
        let End::Fail(text) = o.end else {
            panic!("{o:?}")
        };
        assert!(text.starts_with("the traced re-run did not run the test body: no test named `t` ran in `bin t --exact` (exit status 0).\n--- output of the re-run:\nraw output\n--- verdict:\n"), "{text}");
    }
}
