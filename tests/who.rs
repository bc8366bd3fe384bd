//! `cargo leakcheck` on the fixture `tests/fixtures/who`: what a finding says of itself
//! (the program that made the attempt, the name a lookup asked for, how to fix it) under
//! both tracers, in batch and per-test mode. Every run uses `--isolate-network`: the
//! fixture looks names up on purpose (its tests refuse to run outside a namespace).

use leakcheck_e2e::{report_entry, run_fixture_env};
use serde_json::Value;

/// The leak (or warning) of kind `dns` in a test's entry.
fn dns<'a>(report: &'a Value, test: &str, severity: &str, all: &str) -> &'a Value {
    let entry = report_entry(report, test);
    entry["findings"]
        .as_array()
        .and_then(|fs| {
            fs.iter()
                .find(|f| f["kind"] == "dns" && f["severity"] == severity)
        })
        .unwrap_or_else(|| panic!("{test}: no dns {severity}: {entry:#}\n{all}"))
}

fn text<'a>(finding: &'a Value, field: &str) -> &'a str {
    finding[field]
        .as_str()
        .unwrap_or_else(|| panic!("no `{field}` in {finding:#}"))
}

#[test]
fn findings_name_the_program_the_host_asked_for_and_a_fix() {
    for tracer in ["native", "strace"] {
        for per_test in [false, true] {
            let mut args = vec!["--isolate-network", "--test-threads", "2"];
            if per_test {
                args.push("--per-test");
            }
            let (code, stdout, stderr, report) =
                run_fixture_env("who", &args, &[("LEAKCHECK_TRACER", tracer.as_ref())]);
            let all = format!(
                "{tracer}, per test {per_test}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
            );
            assert_eq!(code, Some(1), "{all}");
            // The test binary, as cargo leakcheck names it when it runs it.
            let binary = stderr
                .lines()
                .find_map(|l| l.trim().strip_prefix("Running unittests src/lib.rs ("))
                .and_then(|l| l.strip_suffix(')'))
                .unwrap_or_else(|| panic!("no Running line\n{all}"));

            // The test's own lookup: the host, its types, the test binary, the fix.
            let own = dns(&report, "tests::looks_up_a_host", "leak", &all);
            let query = text(own, "query");
            assert!(
                query.starts_with("leakcheck-who.example ("),
                "{query}\n{all}"
            );
            assert!(query.contains("A"), "{query}");
            assert_eq!(text(own, "program"), binary, "{all}");
            assert!(text(own, "hint").contains("socks5h://"), "{own:#}");

            // A program the test ran: that program, not the test binary.
            let child = dns(
                &report,
                "tests::child_program_looks_up_a_host",
                "leak",
                &all,
            );
            let program = text(child, "program");
            assert!(program.ends_with("/getent"), "{program}\n{all}");
            assert!(
                text(child, "query").starts_with("leakcheck-child.example ("),
                "{child:#}"
            );

            // Its findings are the batch run's (it only warns, so it is not run again).
            let warned = dns(
                &report,
                "tests::warned::child_program_looks_up_a_host",
                "warning",
                &all,
            );
            assert!(
                text(warned, "program").ends_with("/getent"),
                "{warned:#}\n{all}"
            );
            assert!(
                text(warned, "query").starts_with("leakcheck-batch.example ("),
                "{warned:#}"
            );
            // The native tracer's batch is always trusted here; strace's lines may come in
            // an order that makes the batch run every test alone, which is no error.
            if !per_test && (tracer == "native" || !stderr.contains("each test on its own")) {
                assert!(stderr.contains("2 of 4 tests may have leaked"), "{all}");
            }

            // The clean twin does the same without asking a resolver.
            let twin = report_entry(&report, "tests::clean_twin");
            assert_eq!(twin["verdict"], "clean", "{twin:#}\n{all}");
            assert_eq!(twin["findings"], serde_json::json!([]), "{twin:#}");

            // The failures entry says it too, once per kind for the hint.
            let entry = stdout
                .split("---- tests::child_program_looks_up_a_host stdout ----")
                .nth(1)
                .and_then(|rest| rest.split("\n---- ").next())
                .unwrap_or_else(|| panic!("no failures entry\n{all}"));
            assert!(entry.contains(&format!("program: {program}\n")), "{entry}");
            assert!(
                entry.contains("query: leakcheck-child.example ("),
                "{entry}"
            );
            assert_eq!(
                entry
                    .matches("hint: resolved locally before using the proxy")
                    .count(),
                1,
                "{entry}"
            );
        }
    }
}
