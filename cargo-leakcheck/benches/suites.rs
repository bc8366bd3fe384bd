//! `cargo bench -p cargo-leakcheck --bench suites`: what tracing costs, measured.
//!
//! Generates test suites shaped like real ones (CPU and file tests with a few
//! loopback-heavy ones; the same with a fifth of the tests resolving a host name; many
//! tiny tests; a binary whose tests print libtest-like lines; a runtime thread listening
//! on 0.0.0.0; a network-heavy one), builds each once, then times, alternating so that a
//! noisy neighbour hurts every command alike: `cargo test --tests`, `cargo nextest run`
//! (when installed), the Heteronculous approach (one `strace -f` over the whole
//! `cargo test --tests`, no seccomp filter), and `cargo leakcheck` (default batch mode,
//! `--per-test`, and the strace backend). Prints the median of each and its ratios to
//! `cargo test --tests` and to nextest.
//!
//! Network safety: the whole bench runs in a fresh network namespace of its own (entered
//! before anything starts), so the DNS lookups of the leaky suite cannot leave the
//! machine.
//!
//! `LEAKCHECK_BENCH_ROUNDS=N` sets the number of rounds (default 5);
//! `LEAKCHECK_BENCH_SUITES=a,b` runs only the named suites.

use cargo_leakcheck::process::ProcessBuilder;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CPU_TEST: &str = r#"
    #[test]
    fn cpu_NAME() {
        let mut h: u64 = NAME;
        for i in 0..200_000u64 { h = h.wrapping_mul(6364136223846793005).wrapping_add(i); }
        let path = std::env::temp_dir().join(format!("lcb-{}-NAME", std::process::id()));
        std::fs::write(&path, h.to_le_bytes()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 8);
        let _ = std::fs::remove_file(&path);
    }
"#;

const UDP_TEST: &str = r#"
    #[test]
    fn udp_NAME() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let me = sock.local_addr().unwrap();
        for _ in 0..2000 { sock.send_to(b"datagram", me).unwrap(); let mut b = [0u8; 16]; sock.recv_from(&mut b).unwrap(); }
    }
"#;

/// A local name lookup: a `dns` leak (inside the bench's namespace it goes nowhere).
const DNS_TEST: &str = r#"
    #[test]
    fn dns_NAME() {
        let _ = std::net::ToSocketAddrs::to_socket_addrs(&("hostNAME.example.com", 80));
    }
"#;

const TINY_TEST: &str = r#"
    #[test]
    fn tiny_NAME() { assert_eq!(NAME + 1, 1 + NAME); }
"#;

/// A test that prints what looks like libtest's own lines (as trybuild's tests do).
const PRINTS_TEST: &str = r#"
    #[test]
    fn prints_NAME() {
        println!("test ui/NAME.rs ... ok");
        println!("test result: ok. 1 passed; 0 failed");
    }
"#;

/// A test served by a runtime thread that listens on 0.0.0.0 (a `listen` warning from
/// a thread no test started, as a tokio runtime's).
const RUNTIME_TEST: &str = r#"
    fn runtime() -> std::net::SocketAddr {
        static ADDR: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();
        *ADDR.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new().name("runtime-worker".into()).spawn(move || {
                let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                for conn in listener.incoming() {
                    let _ = std::io::Write::write_all(&mut conn.unwrap(), b"hi");
                }
            }).unwrap();
            std::net::SocketAddr::from(([127, 0, 0, 1], rx.recv().unwrap()))
        })
    }
"#;

const RUNTIME_CLIENT_TEST: &str = r#"
    #[test]
    fn client_NAME() {
        let mut s = std::net::TcpStream::connect(runtime()).unwrap();
        let mut b = [0u8; 2];
        std::io::Read::read_exact(&mut s, &mut b).unwrap();
    }
"#;

struct Suite {
    name: &'static str,
    what: &'static str,
    parts: &'static [(&'static str, usize)],
    /// Code put once before the tests.
    prelude: &'static str,
}

const SUITES: &[Suite] = &[
    Suite {
        name: "clean",
        what: "116 cpu+file, 4 x 2000 loopback datagrams",
        parts: &[(CPU_TEST, 116), (UDP_TEST, 4)],
        prelude: "",
    },
    Suite {
        name: "leaky",
        what: "116 cpu+file, 4 x 2000 loopback datagrams, 30 resolving a name (20%)",
        parts: &[(CPU_TEST, 116), (UDP_TEST, 4), (DNS_TEST, 30)],
        prelude: "",
    },
    Suite {
        name: "tiny",
        what: "1000 tiny tests",
        parts: &[(TINY_TEST, 1000)],
        prelude: "",
    },
    Suite {
        name: "prints",
        what: "100 cpu+file, 20 printing libtest-like lines",
        parts: &[(CPU_TEST, 100), (PRINTS_TEST, 20)],
        prelude: "",
    },
    Suite {
        name: "runtime",
        what: "100 cpu+file, 20 clients of a runtime thread listening on 0.0.0.0",
        parts: &[(CPU_TEST, 100), (RUNTIME_CLIENT_TEST, 20)],
        prelude: RUNTIME_TEST,
    },
    Suite {
        name: "network-heavy",
        what: "100 cpu+file, 20 x 2000 loopback datagrams",
        parts: &[(CPU_TEST, 100), (UDP_TEST, 20)],
        prelude: "",
    },
];

fn generate(root: &Path, suite: &Suite) -> PathBuf {
    let dir = root.join(suite.name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"bench_{}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[package.metadata.leakcheck]\nallow = []\n\n[workspace]\n",
            suite.name.replace('-', "_")
        ),
    )
    .unwrap();
    let mut src = String::from("#[cfg(test)]\nmod tests {\n");
    src.push_str(suite.prelude);
    for (template, count) in suite.parts {
        for i in 0..*count {
            src.push_str(&template.replace("NAME", &i.to_string()));
        }
    }
    src.push_str("}\n");
    std::fs::write(dir.join("src/lib.rs"), src).unwrap();
    dir
}

fn cargo() -> String {
    cargo_leakcheck::process::cargo_program()
        .to_string_lossy()
        .into_owned()
}

/// Whether `program ARGS` runs and succeeds.
fn have(program: &str, args: &[&str]) -> bool {
    ProcessBuilder::new(program)
        .args(args)
        .status_quiet()
        .is_ok_and(|s| s.success())
}

struct Contender {
    label: &'static str,
    command: Vec<String>,
}

fn time(dir: &Path, target: &Path, contender: &Contender) -> (Duration, Option<i32>) {
    let mut cmd = ProcessBuilder::new(&contender.command[0]);
    cmd.args(&contender.command[1..])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target);
    let start = Instant::now();
    let status = cmd.status_quiet().expect("run contender");
    (start.elapsed(), status.code())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn contenders(leakcheck: &str, nextest: bool, strace: bool) -> Vec<Contender> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cargo = cargo();
    let mut out = vec![Contender {
        label: "cargo test --tests",
        command: words(&[&cargo, "test", "--tests", "-q"]),
    }];
    if nextest {
        out.push(Contender {
            label: "cargo nextest run",
            command: words(&[&cargo, "nextest", "run", "--no-fail-fast"]),
        });
    }
    if strace {
        out.push(Contender {
            label: "heteronculous (strace -f)",
            command: words(&[
                "strace",
                "-f",
                "-e",
                "trace=%network",
                "-o",
                "/dev/null",
                &cargo,
                "test",
                "--tests",
                "-q",
            ]),
        });
    }
    out.push(Contender {
        label: "cargo leakcheck",
        command: words(&[leakcheck, "leakcheck"]),
    });
    out.push(Contender {
        label: "cargo leakcheck --per-test",
        command: words(&[leakcheck, "leakcheck", "--per-test"]),
    });
    if strace {
        out.push(Contender {
            label: "cargo leakcheck --tracer strace",
            command: words(&[leakcheck, "leakcheck", "--tracer", "strace"]),
        });
    }
    out
}

fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!(
        "{} cores; {model}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )
}

fn main() {
    // Before any thread or child exists: nothing the suites do can leave the machine.
    if let Err(e) = leakcheck::tracer::isolate::NetworkIsolation::new().enter() {
        eprintln!(
            "the bench needs a network namespace of its own (its leaky suite resolves names): {e}"
        );
        std::process::exit(2);
    }
    // libtest passes --bench; nothing else is taken.
    let rounds: usize = std::env::var("LEAKCHECK_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let only: Option<Vec<String>> = std::env::var("LEAKCHECK_BENCH_SUITES")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let leakcheck = env!("CARGO_BIN_EXE_cargo-leakcheck").to_string();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/leakcheck-bench");
    let target = root.join("target");
    let nextest = have(&cargo(), &["nextest", "--version"]);
    let strace = have("strace", &["-V"]);

    println!("machine: {}", machine());
    println!("rounds: {rounds} (medians), in a network namespace of the bench's own\n");
    for suite in SUITES {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == suite.name))
        {
            continue;
        }
        let dir = generate(&root, suite);
        let built = ProcessBuilder::cargo()
            .args(["test", "--no-run", "-q"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("build suite");
        assert!(built.success(), "building suite {} failed", suite.name);
        let contenders = contenders(&leakcheck, nextest, strace);
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
        let mut codes: Vec<Option<i32>> = vec![None; contenders.len()];
        // One warm-up round, then alternate.
        for c in &contenders {
            time(&dir, &target, c);
        }
        for _ in 0..rounds {
            for (i, c) in contenders.iter().enumerate() {
                let (t, code) = time(&dir, &target, c);
                times[i].push(t);
                codes[i] = code;
            }
        }
        let medians: Vec<Duration> = times.into_iter().map(median).collect();
        let base = medians[0].as_secs_f64();
        let next = nextest.then(|| medians[1].as_secs_f64());
        println!("suite `{}`: {}", suite.name, suite.what);
        println!("| command | median | vs cargo test --tests | vs nextest | exit |");
        println!("|---|---:|---:|---:|---:|");
        for (i, c) in contenders.iter().enumerate() {
            let m = medians[i].as_secs_f64();
            println!(
                "| {} | {:.3} s | {:.2}x | {} | {} |",
                c.label,
                m,
                m / base,
                next.map_or("-".to_string(), |n| format!("{:.2}x", m / n)),
                codes[i].map_or("signal".to_string(), |c| c.to_string())
            );
        }
        println!();
    }
}
