//! The reporter's output for known events, byte for byte (times aside).

use super::*;
use crate::exit;
use leakcheck::report::{BinaryReport, Outcome, TestReport};
use leakcheck::tracer::ProgramStatus;
use leakcheck::verdict::FindingSeverity;
use leakcheck::{Finding, Kind, Verdict};
use std::io;
use std::sync::{Arc, Mutex};

/// A writer whose bytes the test reads afterwards.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buf {
    /// What was written, with every `finished in N.NNs` made `finished in T`.
    fn text(&self) -> String {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("finished in ") {
            let (head, tail) = rest.split_at(at + "finished in ".len());
            out.push_str(head);
            let end = tail.find('s').unwrap();
            out.push('T');
            rest = &tail[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn reporter(
    options: ReporterOptions,
    mode: Mode,
    color: bool,
    github: Option<GitHub>,
) -> (Reporter, Buf, Buf) {
    let (out, err) = (Buf::default(), Buf::default());
    let reporter = Reporter::new(
        options,
        mode,
        Box::new(out.clone()),
        Box::new(err.clone()),
        github,
        color,
    );
    (reporter, out, err)
}

fn finding(kind: Kind, severity: FindingSeverity, destination: &str) -> Finding {
    Finding {
        kind,
        severity,
        syscall: "connect".into(),
        pid: 7,
        destination: Some(destination.into()),
        trace: format!("7 connect(3, {destination}) = -1 ENETUNREACH"),
        occurrences: 1,
        note: None,
        program: None,
        location: None,
        query: None,
        hint: None,
    }
}

fn allow() -> Vec<String> {
    vec!["127.0.0.1:9050".into()]
}

/// One binary: a clean test, a leak, a failure, an ignored test; then its own entry.
fn one_binary(reporter: &mut Reporter) {
    let clean = TestReport::new(
        "demo",
        "a::clean",
        Outcome::Passed,
        &Verdict::observed(Vec::new(), allow()),
    );
    let leak = TestReport::new(
        "demo",
        "a::leaks",
        Outcome::Passed,
        &Verdict::observed(
            vec![finding(Kind::Dns, FindingSeverity::Leak, "10.0.0.2:53")],
            allow(),
        ),
    );
    let failed = TestReport::new(
        "demo",
        "a::fails",
        Outcome::Failed,
        &Verdict::observed(Vec::new(), allow()),
    );
    let ignored = TestReport::new(
        "demo",
        "a::ignored",
        Outcome::Ignored,
        &Verdict::not_run(allow()),
    );
    reporter.report(Event::BinaryStarted {
        header: "Running unittests src/lib.rs (target/debug/deps/demo-0)".into(),
        tests: 4,
    });
    reporter.report(Event::TracingAlone(TracingAlone::Suspects {
        suspects: 2,
        of: 3,
    }));
    reporter.report(Event::TestFinished {
        entry: &ignored,
        own_failure: None,
        shown: &Shown::default(),
    });
    reporter.report(Event::TestFinished {
        entry: &leak,
        own_failure: None,
        shown: &Shown::default(),
    });
    reporter.report(Event::TestFinished {
        entry: &failed,
        own_failure: Some("boom"),
        shown: &Shown::default(),
    });
    reporter.report(Event::TestFinished {
        entry: &clean,
        own_failure: None,
        shown: &Shown::default(),
    });
    let own = BinaryReport::new(
        "demo",
        Verdict::observed(
            vec![finding(Kind::Send, FindingSeverity::Leak, "192.0.2.1:9")],
            Vec::new(),
        ),
    );
    reporter.report(Event::BinaryFinished {
        tests: vec![clean.clone(), leak.clone(), failed.clone(), ignored.clone()],
        filtered_out: 1,
        own: Some(own),
    });
}

#[test]
fn human_lines_are_libtests_and_leakchecks() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let options = ReporterOptions {
        report: Some(report.clone()),
        ..ReporterOptions::default()
    };
    let (mut reporter, out, err) = reporter(options, Mode::Tests, false, None);
    one_binary(&mut reporter);
    assert_eq!(reporter.finish(Path::new("unused")).unwrap(), exit::LEAKED);
    assert_eq!(
        out.text(),
        "\nrunning 4 tests\n\
         test a::ignored ... ignored\n\
         test a::leaks ... FAILED\n\
         test a::fails ... FAILED\n\
         test a::clean ... ok\n\
         \n\
         failures:\n\
         \n\
         ---- a::leaks stdout ----\n\
         the test passed; it leaked\n\
         LEAKED: 1 leak\n  \
         leak    dns                   10.0.0.2:53  connect() pid 7\n          \
         7 connect(3, 10.0.0.2:53) = -1 ENETUNREACH\n  \
         allow list in force: 127.0.0.1:9050\n\
         \n\
         ---- a::fails stdout ----\n\
         boom\n\
         \n\
         \n\
         failures:\n    \
         a::leaks\n    \
         a::fails\n\
         \n\
         test result: FAILED. 1 passed; 2 failed; 1 ignored; 0 measured; 1 filtered out; finished in T\n\n"
    );
    assert_eq!(
        err.text(),
        format!(
            "     Running unittests src/lib.rs (target/debug/deps/demo-0)\n\
             leakcheck: 2 of 3 tests may have leaked or failed; tracing each of them on its own\n\
             leakcheck: demo: what no test can be named for:\n  \
             LEAKED: 1 leak\n    \
             leak    send                  192.0.2.1:9  connect() pid 7\n            \
             7 connect(3, 192.0.2.1:9) = -1 ENETUNREACH\n    \
             allow list in force: (empty: no network allowed)\n\
             leakcheck: LEAKED. 3 tests run: 2 clean, 2 leaked, 0 unverified; 1 failed; 1 ignored; finished in T\n\
             leakcheck: report written to {}\n",
            report.display()
        )
    );
    let written: Report = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let names: Vec<&str> = written.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a::clean", "a::leaks", "a::fails", "a::ignored"]);
    assert_eq!(written.binaries.len(), 1);
}

#[test]
fn colour_marks_the_status_words_only() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReporterOptions {
        report: Some(dir.path().join("r.json")),
        ..ReporterOptions::default()
    };
    let (mut reporter, out, _) = reporter(options, Mode::Tests, true, None);
    one_binary(&mut reporter);
    let text = out.text();
    assert!(
        text.contains("test a::ignored ... \u{1b}[33mignored\u{1b}[0m\n"),
        "{text}"
    );
    assert!(
        text.contains("test a::leaks ... \u{1b}[31mFAILED\u{1b}[0m\n"),
        "{text}"
    );
    assert!(
        text.contains("test a::clean ... \u{1b}[32mok\u{1b}[0m\n"),
        "{text}"
    );
    assert!(
        text.contains("\ntest result: \u{1b}[31mFAILED\u{1b}[0m. 1 passed;"),
        "{text}"
    );
    assert_eq!(text.matches('\u{1b}').count(), 10, "{text}");
}

#[test]
fn json_lines_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReporterOptions {
        format: MessageFormat::Json,
        report: Some(dir.path().join("r.json")),
        leaks_only: true,
        ..ReporterOptions::default()
    };
    let (mut reporter, out, err) = reporter(options, Mode::Tests, true, None);
    one_binary(&mut reporter);
    // --leaks-only does not hide a leak.
    assert_eq!(reporter.finish(Path::new("unused")).unwrap(), exit::LEAKED);
    let lines: Vec<serde_json::Value> = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["type"] == "test"));
    assert_eq!(lines[1]["name"], "a::leaks");
    assert_eq!(lines[1]["findings"][0]["kind"], "dns");
    assert!(out.text().starts_with(r#"{"allow":["127.0.0.1:9050"],"binary":"demo","findings":[],"name":"a::ignored","outcome":"ignored","type":"test","verdict":"not-run"}"#));
    assert_eq!(err.text(), "");
}

#[test]
fn github_annotations_follow_the_libtest_lines_and_a_summary_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "before\n").unwrap();
    let options = ReporterOptions {
        report: Some(dir.path().join("r.json")),
        junit: Some(dir.path().join("junit/j.xml")),
        ..ReporterOptions::default()
    };
    let github = GitHub {
        step_summary: Some(summary.clone()),
    };
    let (mut reporter, out, _) = reporter(options, Mode::Tests, false, Some(github));
    one_binary(&mut reporter);
    reporter.finish(Path::new("unused")).unwrap();
    let text = out.text();
    let annotations: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(
        annotations,
        ["::error title=leakcheck%3A demo a%3A%3Aleaks::a::leaks leaked: dns to 10.0.0.2:53 (connect())%0Aallow list: 127.0.0.1:9050"]
    );
    assert!(text.ends_with(&format!("{}\n", annotations[0])), "{text}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("before\n## ❌ leakcheck: 3 tests, 1 leaked, 0 unverified\n"),
        "{md}"
    );
    let junit = std::fs::read_to_string(dir.path().join("junit/j.xml")).unwrap();
    assert!(
        junit.contains(r#"<failure message="test failed" type="clean">clean: no network leak"#),
        "{junit}"
    );
}

#[test]
fn a_command_is_reported_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let options = ReporterOptions {
        report: Some(report.clone()),
        ..ReporterOptions::default()
    };
    let (mut reporter, out, err) = reporter(options, Mode::Command, true, None);
    reporter.report(Event::CommandStarted {
        command: "sh -c 'exit 3'",
        isolated: true,
    });
    let entry = TestReport::new(
        "sh",
        "sh -c 'exit 3'",
        Outcome::Failed,
        &Verdict::observed(Vec::new(), Vec::new()),
    );
    reporter.report(Event::CommandFinished {
        command: "sh -c 'exit 3'",
        status: &ProgramStatus::Exited(3),
        entry,
    });
    assert_eq!(
        reporter.finish(Path::new("unused")).unwrap(),
        exit::TEST_FAILED
    );
    assert_eq!(out.text(), "");
    assert_eq!(
        err.text(),
        format!(
            "leakcheck: tracing `sh -c 'exit 3'` in an isolated network namespace\n\
             leakcheck: `sh -c 'exit 3'` finished: exit status 3\n\
             leakcheck: clean: no network leak\n\
             leakcheck: report written to {}\n",
            report.display()
        )
    );
}

#[test]
fn a_report_that_cannot_be_written_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let options = ReporterOptions {
        report: Some(blocker.join("r.json")),
        ..ReporterOptions::default()
    };
    let (reporter, _, err) = reporter(options, Mode::Tests, false, None);
    let error = reporter.finish(Path::new("unused")).unwrap_err();
    assert!(
        error.to_string().starts_with("cannot write the report to "),
        "{error}"
    );
    assert_eq!(error.exit_code(), exit::SETUP);
    assert_eq!(err.text(), "");
}

#[test]
fn why_tests_are_traced_alone() {
    let (mut reporter, _, err) = reporter(ReporterOptions::default(), Mode::Tests, false, None);
    for why in [
        TracingAlone::Every { why: None },
        TracingAlone::Every {
            why: Some("the batch run ended with killed by SIGABRT".into()),
        },
        TracingAlone::Others { count: 3 },
    ] {
        reporter.report(Event::TracingAlone(why));
    }
    assert_eq!(
        err.text(),
        "leakcheck: the batch run made attempts that no test's thread made; tracing each test on its own\n\
         leakcheck: the batch run ended with killed by SIGABRT; tracing each test on its own\n\
         leakcheck: the batch run made attempts that no test's own run reproduced; tracing the other 3 tests on their own\n"
    );
}

/// A binary of `n` passing tests and a failing one at `fail`, with libtest's extras.
fn lines_binary(reporter: &mut Reporter, n: usize, fail: usize) {
    reporter.report(Event::BinaryStarted {
        header: "Doc-tests demo".into(),
        tests: n,
    });
    let allow = allow();
    for i in 0..n {
        let name = format!("t{i:03}");
        let (outcome, findings) = match i {
            _ if i == fail => (Outcome::Failed, Vec::new()),
            1 => (Outcome::Ignored, Vec::new()),
            2 => (
                Outcome::Passed,
                vec![finding(
                    Kind::Listen,
                    FindingSeverity::Warning,
                    "0.0.0.0:8080",
                )],
            ),
            _ => (Outcome::Passed, Vec::new()),
        };
        let verdict = if outcome == Outcome::Ignored {
            Verdict::not_run(allow.clone())
        } else {
            Verdict::observed(findings, allow.clone())
        };
        let entry = TestReport::new("demo", &name, outcome, &verdict);
        let shown = Shown {
            mode: (i == 0).then(|| "should panic".to_string()),
            ignore_reason: (i == 1).then(|| "needs Tor".to_string()),
        };
        reporter.report(Event::TestFinished {
            entry: &entry,
            own_failure: (i == fail).then_some("boom\n"),
            shown: &shown,
        });
    }
    reporter.report(Event::BinaryFinished {
        tests: Vec::new(),
        filtered_out: 0,
        own: None,
    });
}

#[test]
fn pretty_lines_carry_modes_reasons_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReporterOptions {
        report: Some(dir.path().join("r.json")),
        ..ReporterOptions::default()
    };
    let (mut reporter, out, err) = reporter(options, Mode::Tests, false, None);
    lines_binary(&mut reporter, 4, 3);
    assert_eq!(
        out.text(),
        "\nrunning 4 tests\n\
         test t000 - should panic ... ok\n\
         test t001 ... ignored, needs Tor\n\
         test t002 ... ok\n    \
         warning: listen 0.0.0.0:8080 by connect() (pid 7)\n\
         test t003 ... FAILED\n\
         \n\
         failures:\n\
         \n\
         ---- t003 stdout ----\n\
         boom\n\
         \n\
         \n\
         failures:\n    \
         t003\n\
         \n\
         test result: FAILED. 2 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in T\n\
         \n"
    );
    assert_eq!(err.text(), "   Doc-tests demo\n");
}

#[test]
fn terse_lines_are_libtests_dots() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReporterOptions {
        report: Some(dir.path().join("r.json")),
        terse: true,
        quiet: true,
        ..ReporterOptions::default()
    };
    let (mut reporter, out, err) = reporter(options, Mode::Tests, false, None);
    lines_binary(&mut reporter, 200, 90);
    let text = out.text();
    let dots = |n: usize| ".".repeat(n);
    let want = format!(
        "\nrunning 200 tests\n\
         .i{} 87/200\n\
         ... 90/200\n\
         t090 --- FAILED\n\
         {} 178/200\n\
         {}\n\
         failures:\n",
        dots(85),
        dots(87),
        dots(22),
    );
    assert!(text.starts_with(&want), "{text}");
    assert!(text.ends_with("finished in T\n\n"), "{text}");
    // cargo's -q: no `Running` line; the warning after the binary's lines.
    assert_eq!(
        err.text(),
        "leakcheck: warning: t002: listen 0.0.0.0:8080 by connect() (pid 7)\n"
    );
}

#[test]
fn a_failing_verdict_says_first_how_the_test_ended() {
    let leak = vec![finding(Kind::Dns, FindingSeverity::Leak, "10.0.0.2:53")];
    let cases = [
        (
            Outcome::Passed,
            Verdict::observed(leak.clone(), allow()),
            "the test passed; it leaked",
        ),
        (
            Outcome::Failed,
            Verdict::observed(leak, allow()),
            "the test failed and leaked",
        ),
        (
            Outcome::TimedOut,
            Verdict::unobserved("timed out", allow()),
            "the test timed out and is unverified",
        ),
    ];
    for (outcome, verdict, first) in cases {
        let entry = TestReport::new("demo", "a::b", outcome, &verdict);
        assert_eq!(human::how_it_ended(&entry), Some(first));
    }
    let clean = TestReport::new(
        "demo",
        "a::b",
        Outcome::Failed,
        &Verdict::observed(Vec::new(), allow()),
    );
    assert_eq!(human::how_it_ended(&clean), None);
}

#[test]
fn a_wrapped_test_says_only_what_fails_it_or_warns() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("nextest/r.json");
    let options = ReporterOptions {
        report: Some(report.clone()),
        ..ReporterOptions::default()
    };
    let (mut reporter, out, err) = reporter(options, Mode::Wrap, false, None);
    let leak = TestReport::new(
        "fixture::net",
        "a::leaks",
        Outcome::Failed,
        &Verdict::observed(
            vec![finding(Kind::Dns, FindingSeverity::Leak, "10.0.0.2:53")],
            allow(),
        ),
    );
    reporter.report(Event::WrapFinished { entry: leak });
    assert_eq!(reporter.finish(Path::new("unused")).unwrap(), exit::LEAKED);
    assert_eq!(out.text(), "");
    assert_eq!(
        err.text(),
        "leakcheck: fixture::net a::leaks: the test failed and leaked\n\
         leakcheck: LEAKED: 1 leak\n\
         leakcheck:   leak    dns                   10.0.0.2:53  connect() pid 7\n\
         leakcheck:           7 connect(3, 10.0.0.2:53) = -1 ENETUNREACH\n\
         leakcheck:   allow list in force: 127.0.0.1:9050\n"
    );
    let written: Report = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(written.tests[0].name, "a::leaks");

    let options = ReporterOptions {
        report: Some(dir.path().join("w.json")),
        ..ReporterOptions::default()
    };
    let (mut second, _, err) = self::reporter(options, Mode::Wrap, false, None);
    let warned = TestReport::new(
        "fixture",
        "a::listens",
        Outcome::Passed,
        &Verdict::observed(
            vec![finding(
                Kind::Listen,
                FindingSeverity::Warning,
                "0.0.0.0:80",
            )],
            allow(),
        ),
    );
    second.report(Event::WrapFinished { entry: warned });
    assert_eq!(second.finish(Path::new("unused")).unwrap(), exit::CLEAN);
    assert_eq!(
        err.text(),
        "leakcheck: warning: listen 0.0.0.0:80 by connect() (pid 7)\n"
    );
}

/// A stream through the stand-in, as a test's entry carries it.
fn stream(destination: &str, username: Option<&str>) -> leakcheck::standin::Stream {
    use leakcheck::standin::{Command, Protocol, Reply, Stream};
    Stream {
        protocol: Protocol::Socks5,
        command: Some(Command::Connect),
        destination: Some(destination.into()),
        username: username.map(String::from),
        sent_bytes: 38,
        reply: Some(Reply::Succeeded),
        ..Stream::new(0, "127.0.0.1:9050")
    }
}

/// One binary: a clean test with a stream, a test whose stream warns, and a leak.
fn stream_binary(reporter: &mut Reporter) {
    let mut clean = TestReport::new(
        "demo",
        "s::isolated",
        Outcome::Passed,
        &Verdict::observed(Vec::new(), allow()),
    );
    clean.streams = vec![stream("example.com:80", Some("<torS0X>0"))];
    let mut warned = TestReport::new(
        "demo",
        "s::no_auth",
        Outcome::Passed,
        &Verdict::observed(
            vec![Finding {
                trace: "socks5 connect to example.org:80 on 127.0.0.1:9050 without credentials: Tor cannot isolate it".into(),
                ..finding(Kind::SocksNoAuth, FindingSeverity::Warning, "127.0.0.1:9050")
            }],
            allow(),
        ),
    );
    warned.streams = vec![stream("example.org:80", None)];
    let mut leaked = TestReport::new(
        "demo",
        "s::leaks",
        Outcome::Passed,
        &Verdict::observed(
            vec![finding(
                Kind::ProtocolLeak,
                FindingSeverity::Leak,
                "127.0.0.1:9050",
            )],
            allow(),
        ),
    );
    leaked.streams = vec![stream("mail.example.com:25", Some("<torS0X>0"))];
    reporter.report(Event::BinaryStarted {
        header: "Running unittests src/lib.rs (target/debug/deps/demo-0)".into(),
        tests: 3,
    });
    for entry in [&clean, &warned, &leaked] {
        reporter.report(Event::TestFinished {
            entry,
            own_failure: None,
            shown: &Shown::default(),
        });
    }
    reporter.report(Event::BinaryFinished {
        tests: vec![clean.clone(), warned.clone(), leaked.clone()],
        filtered_out: 0,
        own: None,
    });
}

#[test]
fn streams_of_every_test_with_verbose_of_failing_ones_without() {
    let failures = "\n\
         failures:\n\
         \n\
         ---- s::leaks stdout ----\n\
         the test passed; it leaked\n\
         LEAKED: 1 leak\n  \
         leak    protocol-leak         127.0.0.1:9050  connect() pid 7\n          \
         7 connect(3, 127.0.0.1:9050) = -1 ENETUNREACH\n  \
         allow list in force: 127.0.0.1:9050\n  \
         streams through the stand-in proxy:\n    \
         socks5 connect to mail.example.com:25 on 127.0.0.1:9050, username \"<torS0X>0\", 38 bytes sent, reply succeeded\n\
         \n\
         \n\
         failures:\n    \
         s::leaks\n\
         \n\
         test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in T\n\
         \n";
    let warning = "    warning: socks-no-auth: socks5 connect to example.org:80 on 127.0.0.1:9050 without credentials: Tor cannot isolate it\n";
    for verbose in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let options = ReporterOptions {
            report: Some(dir.path().join("r.json")),
            verbose,
            ..ReporterOptions::default()
        };
        let (mut reporter, out, _) = reporter(options, Mode::Tests, false, None);
        stream_binary(&mut reporter);
        let want = if verbose {
            format!(
                "\nrunning 3 tests\n\
                 test s::isolated ... ok\n    \
                 stream: socks5 connect to example.com:80 on 127.0.0.1:9050, username \"<torS0X>0\", 38 bytes sent, reply succeeded\n\
                 test s::no_auth ... ok\n\
                 {warning}    \
                 stream: socks5 connect to example.org:80 on 127.0.0.1:9050, no credentials, 38 bytes sent, reply succeeded\n\
                 test s::leaks ... FAILED\n    \
                 stream: socks5 connect to mail.example.com:25 on 127.0.0.1:9050, username \"<torS0X>0\", 38 bytes sent, reply succeeded\n\
                 {failures}"
            )
        } else {
            format!(
                "\nrunning 3 tests\n\
                 test s::isolated ... ok\n\
                 test s::no_auth ... ok\n\
                 {warning}\
                 test s::leaks ... FAILED\n\
                 {failures}"
            )
        };
        assert_eq!(out.text(), want, "verbose: {verbose}");
    }
}

#[test]
fn terse_lines_put_verbose_streams_after_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReporterOptions {
        report: Some(dir.path().join("r.json")),
        terse: true,
        quiet: true,
        verbose: true,
        ..ReporterOptions::default()
    };
    let (mut reporter, _, err) = reporter(options, Mode::Tests, false, None);
    stream_binary(&mut reporter);
    let err = err.text();
    assert!(
        err.starts_with("leakcheck: stream: s::isolated: socks5 connect to example.com:80 on 127.0.0.1:9050, username \"<torS0X>0\""),
        "{err}"
    );
    assert_eq!(err.matches("leakcheck: stream: ").count(), 3, "{err}");
}
