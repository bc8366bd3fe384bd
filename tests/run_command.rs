//! `cargo leakcheck run` on the probe corpus: every probe that leaks must be flagged
//! with its kind, every clean twin must pass. Each probe runs in a fresh network
//! namespace (`--isolate-network`), so nothing it tries leaves the machine.

use leakcheck_e2e::{check_expectation, leakcheck, probe_specs, probes_dir, run_probe};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    // Every probe under each backend: the verdicts must not depend on the tracer. The
    // native backend runs twice: with the send calls on seccomp notification (the
    // default) and on ptrace stops (older kernels).
    let backends: [(&str, &str, &str); 3] = [
        ("native", "native", "1"),
        ("native_ptrace", "native", "0"),
        ("strace", "strace", "1"),
    ];
    for (label, backend, notify) in backends {
        for spec in probe_specs() {
            let name = spec.name.clone();
            let main_spec = spec.clone();
            let env = [
                ("LEAKCHECK_TRACER", backend),
                ("LEAKCHECK_NATIVE_NOTIFY", notify),
            ];
            trials.push(Trial::test(format!("probe::{label}::{name}"), move || {
                let probe = probes_dir().join(&main_spec.name);
                let (output, report) = run_probe(&probe, &main_spec.allow, &env);
                check_expectation(
                    &main_spec.name,
                    &main_spec.expect,
                    &main_spec.kind,
                    &output,
                    &report,
                )
                .or_else(|e| match &main_spec.accept {
                    Some(alt) => check_expectation(&main_spec.name, alt, "none", &output, &report)
                        .map_err(|_| e),
                    None => Err(e),
                })
                .map_err(Failed::from)
            }));
            if let Some((allow, expect)) = spec.also.clone() {
                let spec = spec.clone();
                trials.push(Trial::test(
                    format!("probe::{label}::{name}::with_{allow}"),
                    move || {
                        let probe = probes_dir().join(&spec.name);
                        let (output, report) = run_probe(&probe, &allow, &env);
                        check_expectation(&spec.name, &expect, &spec.kind, &output, &report)
                            .map_err(Failed::from)
                    },
                ));
            }
        }
    }
    trials.push(Trial::test(
        "strace_missing_exits_2_and_names_strace",
        || {
            let output = leakcheck()
                .args(["run", "--", "/bin/true"])
                .env("PATH", "/nonexistent")
                .env("LEAKCHECK_TRACER", "strace")
                .output()
                .map_err(|e| Failed::from(e.to_string()))?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.code() != Some(2)
                || !stderr.contains("strace")
                || !stderr.contains("apt-get install strace")
            {
                return Err(format!("exit {:?}, stderr: {stderr}", output.status.code()).into());
            }
            Ok(())
        },
    ));
    trials.push(Trial::test("native_tracer_needs_no_strace", || {
        let output = leakcheck()
            .args(["run", "--", "/bin/true"])
            .env("PATH", "/nonexistent")
            .env_remove("LEAKCHECK_TRACER")
            .env_remove("LEAKCHECK_STRACE")
            .current_dir(std::env::temp_dir())
            .output()
            .map_err(|e| Failed::from(e.to_string()))?;
        if output.status.code() != Some(0) {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!("exit {:?}, stderr: {stderr}", output.status.code()).into());
        }
        Ok(())
    }));
    trials.push(Trial::test(
        "native_tracer_under_another_tracer_exits_2",
        || {
            // An outer `strace -f` follows leakcheck's fork, so the child cannot be traced.
            let output = std::process::Command::new("strace")
                .args(["-f", "-qq", "-e", "trace=none", "-o", "/dev/null"])
                .arg(leakcheck_e2e::leakcheck_bin())
                .args(["leakcheck", "run", "--tracer", "native", "--", "/bin/true"])
                .current_dir(std::env::temp_dir())
                .output()
                .map_err(|e| Failed::from(format!("strace: {e}")))?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.code() != Some(2) || !stderr.contains("under a tracer") {
                return Err(format!("exit {:?}, stderr: {stderr}", output.status.code()).into());
            }
            Ok(())
        },
    ));
    trials.push(Trial::test(
        "unknown_tracer_exits_2_and_names_the_choices",
        || {
            for (flag, env) in [(None, Some("ptrace")), (Some("ptrace"), None)] {
                let mut cmd = leakcheck();
                cmd.arg("run");
                if let Some(flag) = flag {
                    cmd.args(["--tracer", flag]);
                }
                if let Some(env) = env {
                    cmd.env("LEAKCHECK_TRACER", env);
                }
                let output = cmd
                    .args(["--", "/bin/true"])
                    .current_dir(std::env::temp_dir())
                    .output()
                    .map_err(|e| Failed::from(e.to_string()))?;
                let stderr = String::from_utf8_lossy(&output.stderr);
                if output.status.code() != Some(2)
                    || !stderr.contains("native")
                    || !stderr.contains("strace")
                {
                    return Err(format!("exit {:?}, stderr: {stderr}", output.status.code()).into());
                }
            }
            Ok(())
        },
    ));
    trials.push(Trial::test(
        "failing_command_without_leak_exits_101",
        || {
            let (output, report) = run_probe(std::path::Path::new("/bin/false"), "", &[]);
            if output.status.code() != Some(101) || report["tests"][0]["outcome"] != "failed" {
                return Err(format!("exit {:?}, report {report}", output.status.code()).into());
            }
            Ok(())
        },
    ));
    // Heteronculous' variables instead of --allow: address and port lines alternate, as
    // POSIX basic regular expressions. Its own IPv6 rules never matched; ours must.
    let heteronculous: &[(&str, &str, &str, i32)] = &[
        (
            "connect_ipv4_clean",
            "LEAK_CI_ALLOW_IP4_ADDR_PORT",
            "127\\.0\\.0\\.1\n9050",
            0,
        ),
        (
            "connect_ipv4",
            "LEAK_CI_ALLOW_IP4_ADDR_PORT",
            "127\\.0\\.0\\.1\n9050",
            1,
        ),
        (
            "connect_ipv4",
            "LEAK_CI_ALLOW_IP4_ADDR_PORT",
            "192\\.0\\.2\\.1\n[0-9]\\+",
            0,
        ),
        (
            "connect_ipv6",
            "LEAK_CI_ALLOW_IP6_ADDR_PORT",
            "2001:db8::1\n443",
            0,
        ),
        (
            "connect_ipv6",
            "LEAK_CI_ALLOW_IP6_ADDR_PORT",
            "2001:db8::1\n80",
            1,
        ),
        (
            "dns_udp",
            "LEAK_CI_ALLOW_IP4_ADDR_PORT",
            "192\\.0\\.2\\.53\n[0-9]\\+",
            1,
        ),
    ];
    for (i, (probe, var, value, want)) in heteronculous.iter().enumerate() {
        let (probe, var, value, want) =
            (probe.to_string(), var.to_string(), value.to_string(), *want);
        trials.push(Trial::test(
            format!("heteronculous::{i}_{probe}_exits_{want}"),
            move || {
                let (output, report) = run_probe(&probes_dir().join(&probe), "", &[(&var, &value)]);
                if output.status.code() != Some(want) {
                    return Err(format!(
                        "{var}={value:?}: exit {:?}, expected {want}; report {report}\n{}",
                        output.status.code(),
                        String::from_utf8_lossy(&output.stderr)
                    )
                    .into());
                }
                Ok(())
            },
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}
