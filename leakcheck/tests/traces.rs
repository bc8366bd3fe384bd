//! The judge on recorded strace output: one trace per probe of `tests/probes` (recorded
//! in a network namespace by `tests/probes/record.sh`), plus traces that must never be
//! produced live (vsock, resolver daemons, strace failures, forged lines).

use leakcheck::policy::PolicyConfig;
use leakcheck::verdict::FindingSeverity;
use leakcheck::{judge_trace, Kind, Policy, Verdict, VerdictKind};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn policy(allow: &str) -> Policy {
    let mut entries = Vec::new();
    let mut ip = true;
    for entry in allow.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "ip=false" {
            ip = false;
        } else {
            entries.push(entry.to_string());
        }
    }
    let mut config = PolicyConfig::from_allow_list(&entries, "test").expect("allow list");
    config.set_ip(ip);
    config.resolve("")
}

fn judge_file(path: &Path, allow: &str) -> Verdict {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    judge_trace(text.lines(), policy(allow))
}

/// Checks a verdict against `expect` (leaked/clean/warning-only/unverified) and `kind`.
fn check(name: &str, verdict: &Verdict, expect: &str, kind: Option<Kind>) -> Result<(), String> {
    let want = match expect {
        "leaked" => VerdictKind::Leaked,
        "unverified" => VerdictKind::Unverified,
        _ => VerdictKind::Clean,
    };
    if verdict.verdict != want {
        return Err(format!(
            "{name}: verdict {} (expected {expect}): {verdict:#?}",
            verdict.verdict
        ));
    }
    let severity = if expect == "warning-only" {
        FindingSeverity::Warning
    } else {
        FindingSeverity::Leak
    };
    if let Some(kind) = kind {
        if expect != "clean"
            && !verdict
                .findings
                .iter()
                .any(|f| f.kind == kind && f.severity == severity)
        {
            return Err(format!(
                "{name}: no {kind} finding of severity {severity:?}: {verdict:#?}"
            ));
        }
    }
    if expect == "clean" && verdict.leaks().next().is_some() {
        return Err(format!("{name}: a clean trace got a leak: {verdict:#?}"));
    }
    Ok(())
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| l.starts_with("//") || l.trim().is_empty())
        .find_map(|l| {
            l.strip_prefix(&format!("// {key}:"))
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        })
}

#[test]
fn every_probe_trace_gets_the_probes_verdict() {
    let probes = root().join("tests/probes");
    let traces = root().join("leakcheck/tests/traces");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut sources: Vec<_> = std::fs::read_dir(&probes)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    sources.sort();
    for source in sources
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
    {
        let text = std::fs::read_to_string(source).unwrap();
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let expect = header(&text, "expect").expect("expect header");
        let accept = header(&text, "accept");
        let kind = header(&text, "kind").and_then(|k| k.parse::<Kind>().ok());
        let allow = text
            .lines()
            .find_map(|l| l.strip_prefix("// allow:"))
            .map(|a| a.trim().to_string())
            .unwrap_or_default();
        for variant in [format!("{name}.trace"), format!("{name}.routed.trace")] {
            let path = traces.join(&variant);
            if !path.exists() {
                continue;
            }
            checked += 1;
            let verdict = judge_file(&path, &allow);
            let result = check(&variant, &verdict, &expect, kind).or_else(|e| match &accept {
                Some(alt) => check(&variant, &verdict, alt, None).map_err(|_| e),
                None => Err(e),
            });
            if let Err(e) = result {
                failures.push(e);
            }
        }
    }
    assert!(checked > 40, "only {checked} probe traces found");
    assert!(
        failures.is_empty(),
        "{} of {checked} traces misjudged:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn traces_that_must_not_be_produced_live() {
    const ALLOW: &str = "127.0.0.1:9050";
    let cases: &[(&str, &str, Option<Kind>)] = &[
        ("vsock.trace", "leaked", Some(Kind::RawSocket)),
        ("xdp.trace", "leaked", Some(Kind::RawSocket)),
        ("other_families.trace", "leaked", Some(Kind::RawSocket)),
        ("nscd_hosts.trace", "leaked", Some(Kind::Dns)),
        ("nscd_passwd.trace", "clean", None),
        ("nscd_curl_ip_literal.trace", "leaked", Some(Kind::Connect)),
        ("resolved_varlink.trace", "leaked", Some(Kind::Dns)),
        ("unfinished_resumed.trace", "leaked", Some(Kind::Connect)),
        ("threads_sendmmsg.trace", "leaked", Some(Kind::Send)),
        ("truncated_sendmmsg.trace", "unverified", None),
        ("undecoded_addr.trace", "unverified", None),
        ("strace_ptrace_denied.trace", "unverified", None),
        ("exec_failed.trace", "unverified", None),
        ("program_missing.trace", "unverified", None),
        ("killed_root_signal_none.trace", "unverified", None),
        ("killed_root_signal_default.trace", "clean", None),
        ("killed_mid_syscall_clean.signals.trace", "clean", None),
        ("exec_from_thread_lost.trace", "unverified", None),
        (
            "exec_from_thread.noseccomp.trace",
            "leaked",
            Some(Kind::Connect),
        ),
        (
            "exec_from_thread_lost.noseccomp.trace",
            "leaked",
            Some(Kind::Connect),
        ),
        ("curl_socks5.trace", "clean", None),
        ("curl_socks5_hostname.trace", "clean", None),
        ("curl_socks5_proxy.trace", "leaked", Some(Kind::Dns)),
        ("curl_socks5_hostname_proxy.trace", "clean", None),
        ("forged_trace_tracer.trace", "leaked", None),
    ];
    let dir = root().join("leakcheck/tests/traces");
    let mut failures = Vec::new();
    for (file, expect, kind) in cases {
        let verdict = judge_file(&dir.join(file), ALLOW);
        let accept_unverified =
            file.starts_with("forged") && verdict.verdict == VerdictKind::Unverified;
        if !accept_unverified {
            if let Err(e) = check(file, &verdict, expect, *kind) {
                failures.push(e);
            }
        }
    }
    // A forged trace may be judged leaked or unverified, never clean.
    for file in [
        "forged_trace_pipe.trace",
        "forged_trace_tracer_pipe.trace",
        "forged_trace_hide_pipe.trace",
    ] {
        let verdict = judge_file(&dir.join(file), ALLOW);
        if verdict.verdict == VerdictKind::Clean {
            failures.push(format!("{file}: judged clean: {verdict:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
