//! The stand-in proxy through `cargo leakcheck run --stand-in`: real clients (curl,
//! python3 with PySocks and smtplib, a C program) in the run's own network namespace,
//! where the stand-in plays every destination. Nothing leaves the namespace: the stand-in
//! never connects anywhere.
//!
//! A client that is not installed skips its tests with a message, unless
//! `LEAKCHECK_E2E_STRICT=1` (set by `.ci/run`, which installs them) makes that a failure.

use leakcheck_e2e::leakcheck;

fn run(extra: &[&str], script: &str) -> (Option<i32>, serde_json::Value, String) {
    run_argv(extra, &["sh", "-c", script])
}

/// `cargo leakcheck run --stand-in --leaks-only --allow 127.0.0.1:9050 EXTRA -- ARGV`: exit
/// code, report, stderr.
fn run_argv(extra: &[&str], argv: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = leakcheck()
        .args([
            "run",
            "--stand-in",
            "--leaks-only",
            "--allow",
            "127.0.0.1:9050",
            "--report",
        ])
        .arg(report.path())
        .args(extra)
        .arg("--")
        .args(argv)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&std::fs::read(report.path()).unwrap_or_default())
        .unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn curl_present() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn kinds(report: &serde_json::Value) -> Vec<String> {
    report["tests"][0]["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| f["kind"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn streams(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["tests"][0]["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const CURL: &str = "curl -s --max-time 3 -o /dev/null";

#[test]
fn a_host_name_through_socks5h_without_credentials() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    let (code, report, stderr) = run(
        &[],
        &format!("{CURL} --socks5-hostname 127.0.0.1:9050 http://example.com/"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["tests"][0]["verdict"], "clean", "{report:#}");
    assert_eq!(kinds(&report), ["socks-no-auth"], "{report:#}");
    let streams = streams(&report);
    assert_eq!(streams.len(), 1, "{report:#}");
    assert_eq!(streams[0]["protocol"], "socks5");
    assert_eq!(streams[0]["destination"], "example.com:80");
    assert_eq!(streams[0]["proxy"], "127.0.0.1:9050");
    assert!(streams[0].get("username").is_none(), "{report:#}");
}

#[test]
fn credentials_are_recorded_and_isolate_the_stream() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    let (code, report, stderr) = run(
        &[],
        &format!("{CURL} -U '<torS0X>0:id-A' --socks5-hostname 127.0.0.1:9050 http://example.com/"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(kinds(&report).is_empty(), "{report:#}");
    let streams = streams(&report);
    assert_eq!(streams[0]["username"], "<torS0X>0", "{report:#}");
    assert_eq!(streams[0]["password"], "id-A", "{report:#}");
}

#[test]
fn socks4a_sends_the_name() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    let (_, report, _) = run(
        &[],
        &format!("{CURL} --socks4a 127.0.0.1:9050 http://example.com/"),
    );
    let streams = streams(&report);
    assert_eq!(streams[0]["protocol"], "socks4a", "{report:#}");
    assert_eq!(streams[0]["destination"], "example.com:80", "{report:#}");
}

#[test]
fn an_address_request_is_a_proxy_ip_request() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    // An address written in the URL: nothing to resolve, and the proxy gets the address.
    let (code, report, stderr) = run(
        &[],
        &format!("{CURL} --socks5 127.0.0.1:9050 http://192.0.2.7/"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        kinds(&report).contains(&"proxy-ip-request".to_string()),
        "{report:#}"
    );
    assert_eq!(
        streams(&report)[0]["destination"],
        "192.0.2.7:80",
        "{report:#}"
    );
}

#[test]
fn local_resolution_before_socks5_is_a_dns_leak() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    let (code, report, stderr) = run(
        &[],
        &format!("{CURL} --socks5 127.0.0.1:9050 http://example.com/"),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(kinds(&report).contains(&"dns".to_string()), "{report:#}");
}

#[test]
fn the_host_name_in_a_request_is_a_protocol_leak() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    // Inside the run the host is named by a canary: a client that sends its host name
    // through the proxy sends the canary.
    let (code, report, stderr) = run(
        &[],
        &format!("{CURL} -U u:p --socks5-hostname 127.0.0.1:9050 -H \"X-Client: $(hostname)\" http://example.com/"),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        kinds(&report).contains(&"protocol-leak".to_string()),
        "{report:#}"
    );
    assert!(stderr.contains("protocol-leak"), "{stderr}");
}

#[test]
fn a_clean_payload_has_no_canary() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    let (code, report, stderr) = run(
        &[],
        &format!("{CURL} -U u:p --socks5-hostname 127.0.0.1:9050 -H 'X-Client: test' http://example.com/"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(kinds(&report).is_empty(), "{report:#}");
}

#[test]
fn refuse_mode_answers_host_unreachable() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = leakcheck()
        .args([
            "run",
            "--stand-in=refuse",
            "--leaks-only",
            "--allow",
            "127.0.0.1:9050",
            "--report",
        ])
        .arg(report.path())
        .args([
            "--",
            "sh",
            "-c",
            &format!("{CURL} -U u:p --socks5-hostname 127.0.0.1:9050 http://example.com/"),
        ])
        .output()
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(streams(&json)[0]["reply"], "host-unreachable", "{json:#}");
}

#[test]
fn garbage_is_a_proxy_protocol_error() {
    // No client program needed: bash writes garbage to the proxy (loopback only).
    let (code, report, stderr) = run(
        &[],
        "bash -c 'exec 3<>/dev/tcp/127.0.0.1/9050 && printf \"GARBAGE\\r\\n\\r\\n\" >&3 && sleep 0.3'",
    );
    if report.is_null() {
        panic!("no report: {stderr}");
    }
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        kinds(&report).contains(&"proxy-protocol-error".to_string()),
        "{report:#}"
    );
}

/// (test, verdict, the finding kinds it must have).
const FIXTURE: &[(&str, &str, &[&str])] = &[
    (
        "tests::shares_credentials_a",
        "clean",
        &["shared-isolation"],
    ),
    (
        "tests::shares_credentials_b",
        "clean",
        &["shared-isolation"],
    ),
    ("tests::own_credentials", "clean", &[]),
    ("tests::no_credentials", "clean", &["socks-no-auth"]),
    ("tests::sends_its_host_name", "leaked", &["protocol-leak"]),
    ("tests::asks_by_address", "clean", &["proxy-ip-request"]),
];

fn fixture(per_test: bool) {
    let args: &[&str] = if per_test { &["--per-test"] } else { &[] };
    let (code, stdout, stderr, report) = leakcheck_e2e::run_fixture("standin_ws", args);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    for (name, verdict, kinds) in FIXTURE {
        let entry = leakcheck_e2e::report_entry(&report, name);
        assert_eq!(entry["verdict"], *verdict, "{name}: {entry:#}");
        let found: Vec<&str> = entry["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap())
            .collect();
        assert_eq!(found, *kinds, "{name}: {entry:#}");
        let streams = entry["streams"].as_array().expect("streams");
        assert_eq!(streams.len(), 1, "{name}: {entry:#}");
    }
    let by_address = leakcheck_e2e::report_entry(&report, "tests::asks_by_address");
    assert_eq!(by_address["streams"][0]["destination"], "192.0.2.7:80");
    assert!(
        stderr.contains("also used by standin_ws tests::shares_credentials_b"),
        "{stderr}"
    );
}

#[test]
fn stand_in_from_the_metadata_batch_mode() {
    fixture(false);
}

#[test]
fn stand_in_from_the_metadata_per_test() {
    fixture(true);
}

#[test]
fn an_interface_address_in_a_request_is_a_protocol_leak() {
    let has_ip = std::process::Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !curl_present() || !has_ip {
        missing("curl or ip", "apt-get install curl iproute2");
        return;
    }
    // What getifaddrs() returns inside the run: the canary address on lo.
    let script = format!(
        "a=$(ip -o -4 addr show | awk '$4 !~ /^127/ {{print $4}}' | cut -d/ -f1); {CURL} -U u:p --socks5-hostname 127.0.0.1:9050 -H \"X-Addr: $a\" http://example.com/"
    );
    let (code, report, stderr) = run(&[], &script);
    assert_eq!(code, Some(1), "{stderr}");
    let findings = report["tests"][0]["findings"].as_array().unwrap();
    let leak = findings
        .iter()
        .find(|f| f["kind"] == "protocol-leak")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert!(
        leak["trace"].as_str().unwrap().contains("203.0.113.167"),
        "{leak:#}"
    );
}

/// Whether a test that needs a missing tool fails rather than skips (`.ci/run` installs
/// every tool these tests use).
fn strict() -> bool {
    std::env::var_os("LEAKCHECK_E2E_STRICT").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Skips (or, strict, fails) a test whose tool is missing.
fn missing(what: &str, install: &str) {
    if strict() {
        panic!("{what} is missing and LEAKCHECK_E2E_STRICT is set: {install}");
    }
    eprintln!("skipped: {what} is missing ({install})");
}

/// A python3 that has PySocks (Debian's `python3-socks`): Debian's own first, since the
/// `python3` on PATH may be another one without it.
fn pysocks_python() -> Option<&'static str> {
    static FOUND: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        ["/usr/bin/python3", "python3"].into_iter().find(|python| {
            std::process::Command::new(python)
                .args(["-c", "import socks"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
    })
}

/// What the Python clients share: a SOCKS client of PySocks, fetching `/` from a host
/// through 127.0.0.1:9050, and smtplib through it. The scripts end with status 0 whatever
/// the client met: the verdict is what is checked.
const PY_CLIENTS: &str = r#"
import smtplib, socks, sys

def fetch(kind, rdns, host, creds=(None, None)):
    s = socks.socksocket()
    s.set_proxy(kind, "127.0.0.1", 9050, rdns=rdns, username=creds[0], password=creds[1])
    s.settimeout(5)
    try:
        s.connect((host, 80))
        s.sendall(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n")
        s.recv(100)
    except Exception as e:
        print("client:", repr(e), file=sys.stderr)
    finally:
        s.close()

class ProxiedSMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return socks.create_connection(
            (host, port), timeout, proxy_type=socks.SOCKS5, proxy_addr="127.0.0.1",
            proxy_port=9050, proxy_rdns=True, proxy_username="<torS0X>0",
            proxy_password="id-mail")

def mail(local_hostname):
    try:
        smtp = ProxiedSMTP("mail.example.com", 25, local_hostname=local_hostname, timeout=5)
        smtp.ehlo()
        smtp.quit()
    except Exception as e:
        print("client:", repr(e), file=sys.stderr)
"#;

/// Runs `call` (a line of Python after [`PY_CLIENTS`]) under the stand-in; None when
/// PySocks is missing.
fn python(call: &str) -> Option<(Option<i32>, serde_json::Value, String)> {
    let Some(python) = pysocks_python() else {
        missing(
            "python3 with PySocks",
            "apt-get install python3-socks (Debian's /usr/bin/python3)",
        );
        return None;
    };
    let script = format!("{PY_CLIENTS}\n{call}\n");
    Some(run_argv(&[], &[python, "-c", &script]))
}

#[test]
fn pysocks_with_rdns_sends_the_name() {
    let Some((code, report, stderr)) = python("fetch(socks.SOCKS5, True, 'example.com')") else {
        return;
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(kinds(&report), ["socks-no-auth"], "{report:#}");
    let streams = streams(&report);
    assert_eq!(streams.len(), 1, "{report:#}");
    assert_eq!(streams[0]["protocol"], "socks5");
    assert_eq!(streams[0]["destination"], "example.com:80");
    assert!(streams[0].get("username").is_none(), "{report:#}");
}

#[test]
fn pysocks_without_rdns_resolves_locally() {
    let Some((code, report, stderr)) = python("fetch(socks.SOCKS5, False, 'example.com')") else {
        return;
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert!(kinds(&report).contains(&"dns".to_string()), "{report:#}");
}

#[test]
fn pysocks_without_rdns_gives_the_proxy_an_address() {
    let Some((code, report, stderr)) = python("fetch(socks.SOCKS5, False, '192.0.2.7')") else {
        return;
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        kinds(&report),
        ["proxy-ip-request", "socks-no-auth"],
        "{report:#}"
    );
    assert_eq!(
        streams(&report)[0]["destination"],
        "192.0.2.7:80",
        "{report:#}"
    );
}

#[test]
fn pysocks_with_credentials_isolates_the_stream() {
    let call = "fetch(socks.SOCKS5, True, 'example.com', ('<torS0X>0', 'id-py'))";
    let Some((code, report, stderr)) = python(call) else {
        return;
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert!(kinds(&report).is_empty(), "{report:#}");
    let streams = streams(&report);
    assert_eq!(streams[0]["username"], "<torS0X>0", "{report:#}");
    assert_eq!(streams[0]["password"], "id-py", "{report:#}");
}

#[test]
fn pysocks_socks4a_sends_the_name() {
    let Some((_, report, stderr)) = python("fetch(socks.SOCKS4, True, 'example.com')") else {
        return;
    };
    let streams = streams(&report);
    assert_eq!(streams.len(), 1, "{report:#}\n{stderr}");
    assert_eq!(streams[0]["protocol"], "socks4a", "{report:#}");
    assert_eq!(streams[0]["destination"], "example.com:80", "{report:#}");
}

#[test]
fn smtplib_ehlo_carries_the_host_name() {
    // smtplib's default EHLO argument is socket.getfqdn(), the host's own name when it
    // holds a dot (the canary does); a DNS lookup for it too.
    let Some((code, report, stderr)) = python("mail(None)") else {
        return;
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        kinds(&report).contains(&"protocol-leak".to_string()),
        "{report:#}"
    );
    let leak = report["tests"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "protocol-leak")
        .unwrap();
    assert!(
        leak["trace"]
            .as_str()
            .unwrap()
            .contains("ehlo leakcheck-canary-q7x3v9.example"),
        "{leak:#}"
    );
    let streams = streams(&report);
    assert_eq!(
        streams[0]["destination"], "mail.example.com:25",
        "{report:#}"
    );
    assert!(stderr.contains("protocol-leak"), "{stderr}");
}

#[test]
fn smtplib_with_a_fixed_ehlo_name_is_clean() {
    let Some((code, report, stderr)) = python("mail('localhost')") else {
        return;
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert!(kinds(&report).is_empty(), "{report:#}");
    let streams = streams(&report);
    assert_eq!(
        streams[0]["destination"], "mail.example.com:25",
        "{report:#}"
    );
    assert!(streams[0]["sent_bytes"].as_u64().unwrap() > 0, "{report:#}");
}

/// tests/clients/announce.c, compiled once; None (skipped) without a C compiler.
fn announce_client() -> Option<&'static std::path::Path> {
    static BUILT: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("leakcheck-announce-{}", std::process::id()));
        let source = leakcheck_e2e::tests_dir().join("clients/announce.c");
        let status = std::process::Command::new("cc")
            .args(["-O0", "-Wall", "-o"])
            .arg(&out)
            .arg(&source)
            .status();
        status.is_ok_and(|s| s.success()).then_some(out)
    });
    if built.is_none() {
        missing("a C compiler (cc)", "apt-get install gcc libc6-dev");
    }
    built.as_deref()
}

fn strace_present() -> bool {
    std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The announce client under `tracer`, putting its interface address in the request
/// (`leak`) or not (`clean`).
fn announce(tracer: &str, mode: &str) -> Option<(Option<i32>, serde_json::Value, String)> {
    let client = announce_client()?;
    if tracer == "strace" && !strace_present() {
        missing("strace", "apt-get install strace");
        return None;
    }
    let client = client.to_str().unwrap();
    Some(run_argv(&["--tracer", tracer], &[client, mode]))
}

fn getifaddrs_address_in_a_request(tracer: &str) {
    let Some((code, report, stderr)) = announce(tracer, "leak") else {
        return;
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        kinds(&report),
        ["protocol-leak", "interface-enumeration"],
        "{report:#}"
    );
    let leak = &report["tests"][0]["findings"][0];
    let trace = leak["trace"].as_str().unwrap();
    assert!(
        trace.starts_with("canary 203.0.113.167 (dotted form) in the payload of socks5 connect to tracker.example.com:80 on 127.0.0.1:9050"),
        "{leak:#}"
    );
    assert!(trace.contains("&ip=203.0.113.167 HTTP/1.0"), "{leak:#}");
    let sent = streams(&report);
    assert_eq!(sent.len(), 1, "{report:#}");
    assert_eq!(sent[0]["destination"], "tracker.example.com:80");
    assert_eq!(sent[0]["username"], "<torS0X>0");

    let Some((code, report, stderr)) = announce(tracer, "clean") else {
        return;
    };
    assert_eq!(code, Some(0), "{stderr}");
    // It asked for the addresses (a warning), and sent none of them.
    assert_eq!(kinds(&report), ["interface-enumeration"], "{report:#}");
    assert_eq!(report["tests"][0]["verdict"], "clean", "{report:#}");
    assert_eq!(streams(&report)[0]["destination"], "tracker.example.com:80");
}

#[test]
fn a_c_client_sends_its_getifaddrs_address_native() {
    getifaddrs_address_in_a_request("native");
}

#[test]
fn a_c_client_sends_its_getifaddrs_address_strace() {
    getifaddrs_address_in_a_request("strace");
}

#[test]
fn verbose_lists_every_tests_streams() {
    let (code, stdout, stderr, _) = leakcheck_e2e::run_fixture("standin_ws", &["--verbose"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    // A clean test's stream, under its line.
    let line = "test tests::own_credentials ... ok\n    stream: socks5 connect to example.net:80 on 127.0.0.1:9050, username \"<torS0X>0\", 37 bytes sent, reply succeeded\n";
    assert!(stdout.contains(line), "{stdout}");
    assert_eq!(stdout.matches("\n    stream: ").count(), 6, "{stdout}");
    // Without it, only the failing test's, in its failures entry.
    let (_, stdout, _, _) = leakcheck_e2e::run_fixture("standin_ws", &[]);
    assert!(!stdout.contains("    stream: "), "{stdout}");
    assert_eq!(
        stdout
            .matches("streams through the stand-in proxy:")
            .count(),
        1,
        "{stdout}"
    );
}

#[test]
fn run_verbose_lists_a_clean_commands_streams() {
    if !curl_present() {
        missing("curl", "apt-get install curl");
        return;
    }
    let script = format!("{CURL} -U u:p --socks5-hostname 127.0.0.1:9050 http://example.com/");
    let (code, _, stderr) = run(&["--verbose"], &script);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "leakcheck:     socks5 connect to example.com:80 on 127.0.0.1:9050, username \"u\""
        ),
        "{stderr}"
    );
    let (_, _, stderr) = run(&[], &script);
    assert!(
        !stderr.contains("streams through the stand-in proxy"),
        "{stderr}"
    );
}

/// The fixture with `STANDIN_WS_INIT_STREAM` set (see its static initializer).
fn fixture_with_init_stream(
    which: &str,
    args: &[&str],
) -> (Option<i32>, String, serde_json::Value) {
    let env = [("STANDIN_WS_INIT_STREAM", std::ffi::OsStr::new(which))];
    let (code, stdout, stderr, report) = leakcheck_e2e::run_fixture_env("standin_ws", args, &env);
    (code, format!("{stdout}{stderr}"), report)
}

fn destinations(streams: &serde_json::Value) -> Vec<&str> {
    streams
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| s["destination"].as_str().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_list_runs_streams_are_the_binarys() {
    for args in [&[][..], &["--per-test"]] {
        let (code, output, report) = fixture_with_init_stream("list", args);
        assert_eq!(code, Some(1), "{output}");
        let binaries = report["binaries"].as_array().expect("a binary entry");
        assert_eq!(binaries.len(), 1, "{report:#}");
        assert_eq!(binaries[0]["binary"], "standin_ws", "{report:#}");
        let own = destinations(&binaries[0]["streams"]);
        assert!(!own.is_empty(), "{report:#}");
        assert!(
            own.iter().all(|d| *d == "list.example.com:80"),
            "{report:#}"
        );
        for test in report["tests"].as_array().unwrap() {
            let theirs = destinations(&test["streams"]);
            assert!(!theirs.contains(&"list.example.com:80"), "{test:#}");
        }
        assert!(
            output.contains("leakcheck: standin_ws: what no test can be named for:"),
            "{output}"
        );
        assert!(
            output.contains("socks5 connect to list.example.com:80 on 127.0.0.1:9050"),
            "{output}"
        );
    }
}

#[test]
fn a_stream_no_test_opened_in_the_batch_is_the_binarys() {
    let (code, output, report) = fixture_with_init_stream("all", &[]);
    assert_eq!(code, Some(1), "{output}");
    let binaries = report["binaries"].as_array().expect("a binary entry");
    assert_eq!(
        destinations(&binaries[0]["streams"]),
        ["init.example.com:80"],
        "{report:#}"
    );
    // A test traced again alone (it leaked) has its own process's stream too. The
    // initializer's stream makes only warnings, which send no other test to run alone.
    let tests = report["tests"].as_array().unwrap();
    assert!(tests.iter().any(|t| t["verdict"] == "leaked"), "{report:#}");
    for test in tests.iter().filter(|t| t["verdict"] == "leaked") {
        assert!(
            destinations(&test["streams"]).contains(&"init.example.com:80"),
            "{test:#}"
        );
    }
}
