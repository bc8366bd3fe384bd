//! `cargo bench -p cargo-leakcheck --bench suites`: what tracing costs, measured.
//!
//! Generates three test suites, builds each once, then times, alternating so that a
//! noisy neighbour hurts every command alike: `cargo test`, `cargo nextest run` (when
//! installed), the Heteronculous approach (one `strace -f` over the whole `cargo test`,
//! no seccomp filter), and `cargo leakcheck` (default batch mode, `--per-test`, and the
//! strace backend).
//! Prints the median of each and its ratio to `cargo test`.
//!
//! Every generated test stays on loopback: the "leaky" suite leaks to loopback ports
//! nobody owns, which the policy forbids but which never leave the machine.
//!
//! `LEAKCHECK_BENCH_ROUNDS=N` sets the number of rounds (default 7).

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

const LEAK_TEST: &str = r#"
    #[test]
    fn leak_NAME() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let _ = sock.send_to(b"x", "127.0.0.1:9");
    }
"#;

struct Suite {
    name: &'static str,
    cpu: usize,
    udp: usize,
    leaks: usize,
}

const SUITES: [Suite; 3] = [
    Suite {
        name: "clean",
        cpu: 116,
        udp: 4,
        leaks: 0,
    },
    Suite {
        name: "leaky",
        cpu: 116,
        udp: 4,
        leaks: 3,
    },
    Suite {
        name: "network-heavy",
        cpu: 100,
        udp: 20,
        leaks: 0,
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
    for (template, count) in [
        (CPU_TEST, suite.cpu),
        (UDP_TEST, suite.udp),
        (LEAK_TEST, suite.leaks),
    ] {
        for i in 0..count {
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

fn main() {
    // libtest passes --bench; nothing else is taken.
    let rounds: usize = std::env::var("LEAKCHECK_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7)
        .max(1);
    let leakcheck = env!("CARGO_BIN_EXE_cargo-leakcheck").to_string();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/leakcheck-bench");
    let target = root.join("target");
    let nextest = have(&cargo(), &["nextest"]) || have(&cargo(), &["nextest", "--version"]);
    let strace = have("strace", &["-V"]);

    println!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default()
    );
    println!("rounds: {rounds} (medians)\n");
    for suite in &SUITES {
        let dir = generate(&root, suite);
        let built = ProcessBuilder::cargo()
            .args(["test", "--no-run", "-q"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("build suite");
        assert!(built.success(), "building suite {} failed", suite.name);
        let mut contenders = vec![Contender {
            label: "cargo test",
            command: vec![cargo(), "test".into(), "-q".into()],
        }];
        if nextest {
            contenders.push(Contender {
                label: "cargo nextest run",
                command: vec![cargo(), "nextest".into(), "run".into()],
            });
        }
        if strace {
            contenders.push(Contender {
                label: "heteronculous (strace -f)",
                command: vec![
                    "strace".into(),
                    "-f".into(),
                    "-e".into(),
                    "trace=%network".into(),
                    "-o".into(),
                    "/dev/null".into(),
                    cargo(),
                    "test".into(),
                    "-q".into(),
                ],
            });
        }
        contenders.push(Contender {
            label: "cargo leakcheck",
            command: vec![leakcheck.clone(), "leakcheck".into()],
        });
        contenders.push(Contender {
            label: "cargo leakcheck --per-test",
            command: vec![leakcheck.clone(), "leakcheck".into(), "--per-test".into()],
        });
        if strace {
            contenders.push(Contender {
                label: "cargo leakcheck --tracer strace",
                command: vec![
                    leakcheck.clone(),
                    "leakcheck".into(),
                    "--tracer".into(),
                    "strace".into(),
                ],
            });
        }
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
        let base = median(times[0].clone());
        println!(
            "suite `{}`: {} tests ({} cpu+file, {} x 2000 loopback UDP datagrams, {} leaking)",
            suite.name,
            suite.cpu + suite.udp + suite.leaks,
            suite.cpu,
            suite.udp,
            suite.leaks
        );
        println!("| command | median | vs cargo test | exit |");
        println!("|---|---:|---:|---:|");
        for (i, c) in contenders.iter().enumerate() {
            let m = median(times[i].clone());
            println!(
                "| {} | {:.3} s | {:.2}x | {} |",
                c.label,
                m.as_secs_f64(),
                m.as_secs_f64() / base.as_secs_f64(),
                codes[i].map_or("signal".to_string(), |c| c.to_string())
            );
        }
        println!();
    }
}
