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
    judge_trials(&mut trials);
    libtest_mimic::run(&args, trials).exit();
}

/// The three backends as (label, LEAKCHECK_TRACER, LEAKCHECK_NATIVE_NOTIFY).
const BACKENDS: [(&str, &str, &str); 3] = [
    ("native", "native", "1"),
    ("native_ptrace", "native", "0"),
    ("strace", "strace", "1"),
];

/// `cargo leakcheck run [--isolate-network] --allow ... --report R -- PROGRAM ARGS` under
/// one backend; `pre_exec` runs in the child before leakcheck starts (to hand it a
/// descriptor). Returns the exit code, stderr and the report.
fn run_traced(
    backend: (&str, &str),
    isolate: bool,
    allow: &[&str],
    program: &std::path::Path,
    args: &[&str],
    pre_exec: Option<Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>>,
) -> (Option<i32>, String, serde_json::Value) {
    let report = tempfile::NamedTempFile::new().expect("tempfile");
    let mut cmd = leakcheck();
    cmd.args(["run", "--timeout", "20"]);
    if isolate {
        cmd.arg("--isolate-network");
    }
    for entry in allow {
        cmd.args(["--allow", entry]);
    }
    cmd.arg("--report")
        .arg(report.path())
        .arg("--")
        .arg(program);
    cmd.args(args);
    cmd.env("LEAKCHECK_TRACER", backend.0)
        .env("LEAKCHECK_NATIVE_NOTIFY", backend.1)
        .current_dir(std::env::temp_dir());
    if let Some(hook) = pre_exec {
        use std::os::unix::process::CommandExt;
        // SAFETY: the hook only makes async-signal-safe calls (dup2).
        unsafe {
            cmd.pre_exec(hook);
        }
    }
    let output = cmd.output().expect("run cargo-leakcheck");
    let json = std::fs::read(report.path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        json,
    )
}

fn findings(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["tests"][0]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Checks exit code `want`, and with `destination`, a finding to it whose syscall is
/// `syscall`.
fn expect_run(
    what: &str,
    got: (Option<i32>, String, serde_json::Value),
    want: i32,
    destination: Option<(&str, &str)>,
) -> Result<(), Failed> {
    let (code, stderr, report) = got;
    let found = destination.is_none_or(|(dest, syscall)| {
        findings(&report)
            .iter()
            .any(|f| f["destination"] == dest && f["syscall"] == syscall)
    });
    if code != Some(want) || !found {
        return Err(format!(
            "{what}: exit {code:?} (expected {want}), wanted finding {destination:?}\n{stderr}"
        )
        .into());
    }
    Ok(())
}

/// Checks exit code 1 and a `dns` leak that names what was asked for (`query` starting
/// with `query`), the program that asked (its path ending with `program`) and a hint.
fn expect_dns(
    what: &str,
    got: (Option<i32>, String, serde_json::Value),
    query: &str,
    program: &str,
) -> Result<(), Failed> {
    let (code, stderr, report) = got;
    let all = findings(&report);
    let found = all.iter().any(|f| {
        f["kind"] == "dns"
            && f["severity"] == "leak"
            && f["query"].as_str().is_some_and(|q| q.starts_with(query))
            && f["program"].as_str().is_some_and(|p| p.ends_with(program))
            && f["hint"].as_str().is_some_and(|h| h.contains("socks5h://"))
    });
    if code != Some(1) || !found {
        return Err(format!(
            "{what}: exit {code:?}, wanted a dns leak for `{query}` by `…{program}`: {all:#?}\n{stderr}"
        )
        .into());
    }
    Ok(())
}

/// The judge's cases that need more than a probe header: the reported destination,
/// runs without a network namespace of their own (the tree's sockets are then found by
/// their descriptors), descriptors handed in from outside the traced tree.
fn judge_trials(trials: &mut Vec<Trial>) {
    for (label, backend, notify) in BACKENDS {
        let be = (backend, notify);
        trials.push(Trial::test(
            format!("judge::{label}::connect_to_0_0_0_0_reported_as_loopback"),
            move || {
                let probe = probes_dir().join("connect_any_addr");
                let got = run_traced(be, true, &["127.0.0.1:9050"], &probe, &[], None);
                expect_run(
                    "connect_any_addr",
                    got,
                    1,
                    Some(("127.0.0.1:8080", "connect")),
                )
            },
        ));
        // A lookup names the host asked for and the program that asked: glibc's queries
        // on a connected socket (the nameserver is on the namespace's lo), a query sent
        // with its destination, and a child program's lookup.
        trials.push(Trial::test(
            format!("judge::{label}::dns_finding_names_the_host"),
            move || {
                let probe = probes_dir().join("dns_getaddrinfo");
                let got = run_traced(be, true, &["127.0.0.1:9050"], &probe, &[], None);
                expect_dns("dns_getaddrinfo", got, "example.com (A", "/dns_getaddrinfo")?;
                let probe = probes_dir().join("dns_udp");
                let got = run_traced(be, true, &["127.0.0.1:9050"], &probe, &[], None);
                expect_dns("dns_udp", got, "example.com (A)", "/dns_udp")
            },
        ));
        trials.push(Trial::test(
            format!("judge::{label}::dns_finding_names_the_child_program"),
            move || {
                let sh = std::path::Path::new("/bin/sh");
                let script = "getent hosts leakcheck-sh.example; exit 0";
                let got = run_traced(be, true, &[], sh, &["-c", script], None);
                expect_dns("sh -c getent", got, "leakcheck-sh.example (", "/getent")
            },
        ));
        // Without --isolate-network (loopback only): a port is the tree's own when one
        // of its processes holds the socket.
        for (probe, want) in [("ephemeral_ports_clean", 0), ("ephemeral_ports_leak", 1)] {
            trials.push(Trial::test(
                format!("judge::{label}::{probe}_shared_network"),
                move || {
                    let path = probes_dir().join(probe);
                    let got = run_traced(be, false, &["127.0.0.1:9050"], &path, &[], None);
                    expect_run(probe, got, want, None)
                },
            ));
        }
        // Rust std's ordinary sockets (socketpair, accept, try_clone), ending right after
        // a send: never unverified.
        for isolate in [true, false] {
            trials.push(Trial::test(
                format!("judge::{label}::std_sockets_clean_isolated_{isolate}"),
                move || {
                    let program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_std-sockets"));
                    let got = run_traced(be, isolate, &[], &program, &["3"], None);
                    expect_run("std-sockets", got, 0, None)
                },
            ));
        }
        for (allow, want) in [("127.0.0.1:9050", 1), ("127.0.0.1:9", 0)] {
            trials.push(Trial::test(
                format!("judge::{label}::inherited_udp_socket_allow_{allow}"),
                move || inherited_socket(be, allow, want),
            ));
            trials.push(Trial::test(
                format!("judge::{label}::socket_passed_from_outside_allow_{allow}"),
                move || passed_socket(be, allow, want),
            ));
        }
    }
}

/// A UDP socket connected to 127.0.0.1:9 (loopback only), close-on-exec in the test.
fn udp_to_discard() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect("127.0.0.1:9").expect("connect");
    socket
}

/// leakcheck inherits the socket as descriptor 7 (no close-on-exec) and so does the
/// program, which writes on it with write(2), never traced: judged at start.
fn inherited_socket(backend: (&str, &str), allow: &str, want: i32) -> Result<(), Failed> {
    use std::os::fd::AsRawFd;
    let socket = udp_to_discard();
    let raw = socket.as_raw_fd();
    let hook = Box::new(move || {
        // SAFETY: dup2 is async-signal-safe; the copy has no FD_CLOEXEC.
        if unsafe { libc::dup2(raw, 7) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    let got = run_traced(
        backend,
        false,
        &[allow],
        std::path::Path::new("/bin/sh"),
        &["-c", "echo x >&7"],
        Some(hook),
    );
    drop(socket);
    let dest = (want == 1).then_some(("127.0.0.1:9", "inherited"));
    expect_run("inherited socket", got, want, dest)
}

/// The test (outside the traced tree) hands a connected UDP socket over SCM_RIGHTS to
/// the traced helper, which sends on it: judged by the descriptor's peer.
fn passed_socket(backend: (&str, &str), allow: &str, want: i32) -> Result<(), Failed> {
    use std::os::fd::AsRawFd;
    let helper = helper_bin("recv_fd_send");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("unix listener");
    let socket = udp_to_discard();
    let raw = socket.as_raw_fd();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        send_fd(stream.as_raw_fd(), raw);
        // Keep both until the helper is done.
        let mut buf = [0u8; 1];
        let _ = std::io::Read::read(&mut &stream, &mut buf);
    });
    let path_text = path.to_string_lossy().into_owned();
    let got = run_traced(backend, false, &[allow], &helper, &[&path_text], None);
    let _ = server.join();
    drop(socket);
    let dest = (want == 1).then_some(("127.0.0.1:9", "sendto"));
    expect_run("passed socket", got, want, dest)
}

fn send_fd(stream: i32, fd: i32) {
    // SAFETY: a sendmsg with one SCM_RIGHTS control message built in local buffers.
    unsafe {
        let space = libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) as usize;
        let mut control = vec![0u8; space];
        let mut byte = [b'f'];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let cm = libc::CMSG_FIRSTHDR(&msg);
        (*cm).cmsg_level = libc::SOL_SOCKET;
        (*cm).cmsg_type = libc::SCM_RIGHTS;
        (*cm).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as usize;
        std::ptr::copy_nonoverlapping(
            (&fd as *const i32).cast::<u8>(),
            libc::CMSG_DATA(cm),
            std::mem::size_of::<i32>(),
        );
        libc::sendmsg(stream, &msg, 0);
    }
}

/// Compiles `tests/probes/helpers/NAME.c` once per test process.
fn helper_bin(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let out = probes_dir().join(format!("helper-{name}"));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let src = leakcheck_e2e::tests_dir().join(format!("probes/helpers/{name}.c"));
        let status = std::process::Command::new("cc")
            .args(["-O1", "-Wall", "-Wextra", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("run cc");
        assert!(status.success(), "compiling {} failed", src.display());
        built.push(name.to_string());
    }
    out
}
