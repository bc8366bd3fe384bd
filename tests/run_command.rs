//! `cargo leakcheck run` on the probe corpus: every probe that leaks must be flagged
//! with its kind, every clean twin must pass. Each probe runs in a fresh network
//! namespace (`--isolate-network`), so nothing it tries leaves the machine.

use leakcheck_e2e::{check_expectation, leakcheck, probe_specs, probes_dir, run_probe};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for spec in probe_specs() {
        let name = spec.name.clone();
        let main_spec = spec.clone();
        trials.push(Trial::test(format!("probe::{name}"), move || {
            let probe = probes_dir().join(&main_spec.name);
            let (output, report) = run_probe(&probe, &main_spec.allow, &[]);
            check_expectation(
                &main_spec.name,
                &main_spec.expect,
                &main_spec.kind,
                &output,
                &report,
            )
            .map_err(Failed::from)
        }));
        if let Some((allow, expect)) = spec.also.clone() {
            let spec = spec.clone();
            trials.push(Trial::test(
                format!("probe::{name}::with_{allow}"),
                move || {
                    let probe = probes_dir().join(&spec.name);
                    let (output, report) = run_probe(&probe, &allow, &[]);
                    check_expectation(&spec.name, &expect, &spec.kind, &output, &report)
                        .map_err(Failed::from)
                },
            ));
        }
    }
    trials.push(Trial::test(
        "strace_missing_exits_2_and_names_strace",
        || {
            let output = leakcheck()
                .args(["run", "--", "/bin/true"])
                .env("PATH", "/nonexistent")
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
    libtest_mimic::run(&args, trials).exit();
}
