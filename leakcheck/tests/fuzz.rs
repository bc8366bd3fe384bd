//! Fuzz and property tests for the trace parser and the judge: nothing panics, and the
//! verdict fails closed.
//!
//! Inputs come from a small deterministic PRNG (xorshift64*, fixed seeds), so a failure
//! names a seed and a case that reproduce it; no dependency is needed. The properties:
//!
//! * **No panic**: `judge_trace` and the parser survive any text. Each judged trace runs
//!   under `catch_unwind`, and a failure shows the input.
//! * **Fail closed**: when the parser rejects a line (or a call left unfinished), the
//!   verdict is never `clean` and the rejection is among the verdict's problems.
//! * **Clean needs a whole run**: a `clean` verdict has no problems and no leaks, and its
//!   trace shows a successful execve and a process end.
//! * **Same events, same verdict**: a mutated trace that parses without error into the
//!   very events of its (error-free) original gets the original's verdict.
//! * **Cutting a leaked trace's line never makes it clean**: for every recorded trace
//!   judged leaked, a line cut short anywhere before its return value is rejected, and a
//!   cut that keeps the return value's first token leaves the verdict leaked or
//!   unverified. Cuts that shorten the first token itself (`= 12` → `= 1`, `= -1` →
//!   `= `) are not asserted: `= 1` is a different but valid line.
//!
//! What is *not* asserted, because it does not hold by design: that deleting a line, or
//! corrupting a byte into another valid line (`connect` → `connecu`, an ignored call;
//! `9051` → `9050`, the allowed port; fd `3` → `4`, another socket), keeps a leak. Such
//! outcomes are counted and, with `LEAKCHECK_FUZZ_VERBOSE=1`, printed. The ignored test
//! `fail_open_inputs_found_by_fuzzing` keeps the lines found so far that strace never
//! prints and that the judge nevertheless finds clean (`cargo test -- --ignored`).
//!
//! Environment:
//!
//! * `LEAKCHECK_FUZZ_ITERATIONS=N` (default 4000): cases per random test; the leaked-trace
//!   test corrupts N/1000 bytes per line (4 to 200) and cuts every line of every leaked
//!   trace instead of a sample when N >= 20000.
//! * `LEAKCHECK_FUZZ_EXAMPLES=K`: examples per class in verbose mode (default 3).
//! * `LEAKCHECK_FUZZ_SEED=S`: explores other inputs (default: fixed seeds).
//! * `LEAKCHECK_FUZZ_VERBOSE=1`: prints statistics and examples of unasserted outcomes
//!   (run with `--nocapture`).

use leakcheck::event::EventKind;
use leakcheck::parser::Parser;
use leakcheck::policy::PolicyConfig;
use leakcheck::verdict::FindingSeverity;
use leakcheck::{judge_trace, Policy, Verdict, VerdictKind};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const DEFAULT_ITERATIONS: u64 = 4000;
const DEFAULT_SEED: u64 = 0x1eac_c4ec_f022_5eed;
/// The allow entry `traces.rs` uses for traces without a probe source.
const ALLOW: &str = "127.0.0.1:9050";

// ---------------------------------------------------------------------------------------
// Configuration and PRNG
// ---------------------------------------------------------------------------------------

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={value} is not a number")))
}

fn iterations() -> u64 {
    env_u64("LEAKCHECK_FUZZ_ITERATIONS").unwrap_or(DEFAULT_ITERATIONS)
}

fn seed() -> u64 {
    env_u64("LEAKCHECK_FUZZ_SEED").unwrap_or(DEFAULT_SEED)
}

fn verbose() -> bool {
    std::env::var_os("LEAKCHECK_FUZZ_VERBOSE").is_some_and(|v| v != "0")
}

/// How many examples of each unasserted outcome verbose mode prints.
fn examples() -> usize {
    env_u64("LEAKCHECK_FUZZ_EXAMPLES").map_or(3, |n| n as usize)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// xorshift64*: small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    /// The generator of case `case` of the test `test` (reproducible one by one).
    fn for_case(test: u64, case: u64) -> Rng {
        Rng(splitmix(seed() ^ splitmix(test) ^ splitmix(case.wrapping_mul(31))) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (0 when n is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A length up to 2^max_bits, skewed towards short ones.
    fn length(&mut self, max_bits: u32) -> usize {
        let bits = self.below(max_bits as usize + 1) as u32;
        self.below(1usize << bits) + usize::from(bits > 0)
    }
}

// ---------------------------------------------------------------------------------------
// Policies and recorded traces (as tests/traces.rs builds them)
// ---------------------------------------------------------------------------------------

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
    let mut config = PolicyConfig::from_allow_list(&entries, "fuzz").expect("allow list");
    config.set_ip(ip);
    config.resolve("")
}

/// The allow list `traces.rs` judges `file` under: the probe's `// allow:` header for
/// `NAME.trace` and `NAME.routed.trace` of a probe `NAME.c`, else [`ALLOW`].
fn allow_for(file: &str) -> String {
    let stem = file
        .strip_suffix(".routed.trace")
        .or_else(|| file.strip_suffix(".trace"));
    let source = stem.map(|s| root().join("tests/probes").join(format!("{s}.c")));
    match source.and_then(|s| std::fs::read_to_string(s).ok()) {
        Some(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("// allow:"))
            .map(|a| a.trim().to_string())
            .unwrap_or_default(),
        None => ALLOW.to_string(),
    }
}

/// One recorded trace with the policy it is judged under and its unmutated outcome.
struct Recorded {
    name: String,
    lines: Vec<String>,
    policy: Policy,
    original: Outcome,
}

fn recorded_traces() -> Vec<Recorded> {
    let dir = root().join("leakcheck/tests/traces");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    files.sort();
    let traces: Vec<Recorded> = files
        .iter()
        .map(|path| {
            let name = file_name(path);
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let policy = policy(&allow_for(&name));
            let original = judge(&lines, &policy)
                .unwrap_or_else(|p| panic!("{name}: the recorded trace panics: {p}"));
            if let Err(e) = invariants(&original) {
                panic!("{name}: {e}");
            }
            Recorded {
                name,
                lines,
                policy,
                original,
            }
        })
        .collect();
    assert!(traces.len() > 40, "only {} recorded traces", traces.len());
    traces
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Judging under catch_unwind, and the properties every outcome must have
// ---------------------------------------------------------------------------------------

/// What the parser made of a trace: replayed exactly as `judge_trace` feeds it.
#[derive(Debug)]
struct Replay {
    events: Vec<(u32, EventKind)>,
    errors: Vec<String>,
}

struct Outcome {
    verdict: Verdict,
    replay: Replay,
}

fn replay(lines: &[String]) -> Replay {
    let mut parser = Parser::new();
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut line_events = Vec::new();
    for line in lines {
        line_events.clear();
        match parser.parse_line(line, &mut line_events) {
            // judge_trace observes a line's events only when the line parsed.
            Ok(()) => events.extend(line_events.drain(..).map(|e| (e.pid, e.kind))),
            Err(e) => errors.push(e.to_string()),
        }
    }
    line_events.clear();
    for error in parser.take_unfinished(&mut line_events) {
        errors.push(error.to_string());
    }
    events.extend(line_events.into_iter().map(|e| (e.pid, e.kind)));
    Replay { events, errors }
}

/// Judges `lines` (and replays the parser on them); Err carries the panic message.
fn judge(lines: &[String], policy: &Policy) -> Result<Outcome, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let verdict = judge_trace(lines.iter().map(String::as_str), policy.clone());
        Outcome {
            verdict,
            replay: replay(lines),
        }
    }))
    .map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

/// The properties any outcome has, whatever the input.
fn invariants(o: &Outcome) -> Result<(), String> {
    let v = &o.verdict;
    let leaks = v.leaks().count();
    match v.verdict {
        VerdictKind::Leaked if leaks == 0 => return Err("leaked without a leak".into()),
        VerdictKind::Clean | VerdictKind::Unverified if leaks > 0 => {
            return Err(format!("{} with {leaks} leak(s)", v.verdict))
        }
        VerdictKind::Unverified if v.problems.is_empty() => {
            return Err("unverified without a problem".into())
        }
        VerdictKind::NotRun => return Err("judge_trace said not-run".into()),
        _ => {}
    }
    if !o.replay.errors.is_empty() {
        if v.verdict == VerdictKind::Clean {
            return Err(format!(
                "judged clean although the parser rejected: {:?}",
                o.replay.errors
            ));
        }
        if v.problems.is_empty() {
            return Err(format!(
                "the parser rejected {:?} but the verdict has no problem",
                o.replay.errors
            ));
        }
    }
    if v.verdict == VerdictKind::Clean {
        if !v.problems.is_empty() {
            return Err(format!("clean with problems {:?}", v.problems));
        }
        let started = o
            .replay
            .events
            .iter()
            .any(|(_, k)| matches!(k, EventKind::Exec { ok: true, .. }));
        let ended = o
            .replay
            .events
            .iter()
            .any(|(_, k)| matches!(k, EventKind::Exit(_)));
        if !started || !ended {
            return Err(format!(
                "clean without a successful execve ({started}) or a process end ({ended})"
            ));
        }
    }
    if v.findings
        .iter()
        .any(|f| f.severity == FindingSeverity::Leak && f.occurrences == 0)
    {
        return Err("a finding without occurrences".into());
    }
    Ok(())
}

/// Same events without a parse error on either side: same verdict.
fn same_events_same_verdict(o: &Outcome, original: &Outcome) -> Result<(), String> {
    if o.replay.errors.is_empty()
        && original.replay.errors.is_empty()
        && o.replay.events == original.replay.events
        && o.verdict.verdict != original.verdict.verdict
    {
        return Err(format!(
            "the same events as the original got {} instead of {}",
            o.verdict.verdict, original.verdict.verdict
        ));
    }
    Ok(())
}

/// Shows an input for a failure message: each line escaped, long lines shortened.
fn show(lines: &[String]) -> String {
    const MAX: usize = 1500;
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate().take(400) {
        let mut text = format!("{line:?}");
        if text.len() > MAX {
            let mut cut = MAX;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text = format!("{}... ({} bytes)", &text[..cut], line.len());
        }
        out.push_str(&format!("  {i:3}: {text}\n"));
    }
    if lines.len() > 400 {
        out.push_str(&format!("  ... {} lines in all\n", lines.len()));
    }
    out
}

/// Failures of one test, reported together (the first few in full).
#[derive(Default)]
struct Failures {
    shown: Vec<String>,
    count: usize,
}

impl Failures {
    fn add(&mut self, what: String) {
        self.count += 1;
        if self.shown.len() < 8 {
            self.shown.push(what);
        }
    }

    /// Judges `lines`, checks the invariants (and the original, when given) and records
    /// any failure with `label` and the input. Returns the outcome when there was no panic.
    fn judge(
        &mut self,
        label: &str,
        lines: &[String],
        policy: &Policy,
        original: Option<&Outcome>,
    ) -> Option<Outcome> {
        match judge(lines, policy) {
            Err(panic) => {
                self.add(format!("{label}: PANIC: {panic}\ninput:\n{}", show(lines)));
                None
            }
            Ok(o) => {
                let checked = invariants(&o).and_then(|()| match original {
                    Some(original) => same_events_same_verdict(&o, original),
                    None => Ok(()),
                });
                if let Err(e) = checked {
                    self.add(format!(
                        "{label}: {e}\nverdict: {:#?}\ninput:\n{}",
                        o.verdict,
                        show(lines)
                    ));
                }
                Some(o)
            }
        }
    }

    fn assert_none(self, test: &str, cases: u64) {
        assert!(
            self.count == 0,
            "{test}: {} of {cases} cases failed (seed {:#x}; LEAKCHECK_FUZZ_SEED and \
             LEAKCHECK_FUZZ_ITERATIONS reproduce them); the first ones:\n\n{}",
            self.count,
            seed(),
            self.shown.join("\n\n")
        );
    }
}

/// Outcomes that are not failures but worth seeing: counted by class, a few kept.
#[derive(Default)]
struct Notes(BTreeMap<String, (usize, Vec<String>)>);

impl Notes {
    fn note(&mut self, class: &str, example: impl FnOnce() -> String) {
        let entry = self.0.entry(class.to_string()).or_default();
        entry.0 += 1;
        if entry.1.len() < examples() && verbose() {
            entry.1.push(example());
        }
    }

    fn print(&self, test: &str) {
        if !verbose() {
            return;
        }
        println!("{test}:");
        for (class, (count, examples)) in &self.0 {
            println!("  {count:8}  {class}");
            for example in examples {
                println!("            e.g. {example}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Generators and mutations
// ---------------------------------------------------------------------------------------

/// Pieces of strace syntax, for inputs that get past the first checks of the parser.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\\"",
    "\\x",
    "\\377",
    ",",
    ", ",
    "=",
    " = ",
    " = 0",
    " = -1 ENETUNREACH (Network is unreachable)",
    " = ?",
    " = 3",
    "...",
    " ",
    "  ",
    "\t",
    "\r",
    "\0",
    "<unfinished ...>",
    " <unfinished ...>",
    "<... connect resumed>",
    "<... sendmmsg resumed>",
    "<... execve resumed>",
    "<... resumed>",
    "<pid changed to 1 ...>",
    " <pid changed to 4294967296 ...>",
    "+++ ",
    " +++",
    "+++ exited with 0 +++",
    "+++ killed by SIGKILL +++",
    "+++ thread named \"x\" +++",
    "+++ superseded by execve in pid 2 +++",
    "--- SIGCHLD {si_signo=SIGCHLD} ---",
    "execve(\"/bin/x\", [\"x\"], 0x7ffd /* 2 vars */) = 0",
    "connect(",
    "bind(",
    "sendto(",
    "sendmsg(",
    "sendmmsg(",
    "socket(",
    "listen(",
    "getsockname(",
    "ioctl(",
    "io_uring_setup(",
    "execve(",
    "execveat(",
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "AF_NETLINK",
    "AF_VSOCK",
    "SOCK_RAW",
    "SOCK_STREAM",
    "{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"192.0.2.1\")}",
    "{sa_family=AF_INET6, sin6_port=htons(443), inet_pton(AF_INET6, \"::1\", &sin6_addr)}",
    "{sa_family=AF_UNIX, sun_path=\"/var/run/nscd/socket\"}",
    "{sa_family=AF_UNIX, sun_path=@\"x\"}",
    "sa_family=",
    "sin_port=htons(",
    "sin_addr=inet_addr(\"",
    "inet_pton(AF_INET6, \"",
    "sun_path=",
    "msg_name=",
    "{msg_hdr={msg_name=",
    "nlmsg_type=",
    "nlmsg_type=RTM_GETADDR",
    "NULL",
    "0x7ffd",
    "(errno 18446744073709551574)",
    "é",
    "\u{fffd}",
    "\u{10ffff}",
    "18446744073709551616",
    "4294967296",
    "-2147483649",
    "99999999999999999999999999",
    "65536",
    "127.0.0.1",
    "9050",
    "53",
];

/// Arbitrary bytes: uniform noise, strace-ish tokens, or near-valid lines.
fn arbitrary_bytes(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = Vec::new();
    match rng.below(4) {
        0 => {
            let len = rng.length(12);
            bytes.extend((0..len).map(|_| rng.next() as u8));
        }
        1 => {
            let count = rng.length(8);
            for _ in 0..count {
                match rng.below(8) {
                    0 => bytes.push(rng.next() as u8),
                    1 => bytes.push(b'\n'),
                    2 => bytes.extend(rng.below(100_000).to_string().bytes()),
                    _ => bytes.extend(rng.pick(TOKENS).bytes()),
                }
            }
        }
        _ => {
            // Lines that look like a trace, from an execve to an exit, with noise.
            let pid = rng
                .pick(&["6483", "1", "0", "4294967295", "99999999999"])
                .to_string();
            let count = rng.length(5);
            if rng.chance(3, 4) {
                bytes.extend(format!("{pid}  {}\n", TOKENS[40]).bytes());
            }
            for _ in 0..count {
                if rng.chance(3, 4) {
                    bytes.extend(pid.bytes());
                    bytes.extend(b"  ");
                }
                let parts = 1 + rng.length(4);
                for _ in 0..parts {
                    if rng.chance(1, 12) {
                        bytes.push(rng.next() as u8);
                    } else {
                        bytes.extend(rng.pick(TOKENS).bytes());
                    }
                }
                bytes.push(b'\n');
            }
            if rng.chance(3, 4) {
                bytes.extend(format!("{pid} +++ exited with 0 +++\n").bytes());
            }
        }
    }
    bytes
}

/// Splits text into the items judge_trace gets: at newlines (several ways), at random
/// places, or not at all.
fn split_lines(rng: &mut Rng, text: &str) -> Vec<String> {
    match rng.below(5) {
        0 => text.lines().map(str::to_string).collect(),
        1 => text.split('\n').map(str::to_string).collect(),
        2 => text.split(['\n', '\r']).map(str::to_string).collect(),
        3 => vec![text.to_string()],
        _ => {
            let mut lines = Vec::new();
            let mut rest = text;
            while !rest.is_empty() {
                let mut cut = (1 + rng.below(80)).min(rest.len());
                while !rest.is_char_boundary(cut) {
                    cut += 1;
                }
                lines.push(rest[..cut].to_string());
                rest = &rest[cut..];
            }
            lines
        }
    }
}

/// A char boundary of `text` at or after `i`.
fn boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// A random char boundary of `text` (0..=len).
fn random_boundary(rng: &mut Rng, text: &str) -> usize {
    boundary(text, rng.below(text.len() + 1))
}

/// A random range of `text` on char boundaries, mostly short.
fn random_range(rng: &mut Rng, text: &str) -> (usize, usize) {
    let start = random_boundary(rng, text);
    let end = boundary(text, start + rng.length(5));
    (start, end)
}

fn insertion(rng: &mut Rng, line: &str) -> String {
    match rng.below(6) {
        0 => rng.below(10).to_string(),
        1 => rng
            .pick(&[
                "18446744073709551616",
                "18446744073709551615",
                "4294967296",
                "2147483648",
                "-9223372036854775809",
                "65536",
                "99999999999999999999999999999999999999",
                "0x",
                "-",
            ])
            .to_string(),
        2 => {
            // A resumption of this line's own call, or the marker of an unfinished one.
            let name: String = line
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if rng.chance(1, 2) {
                format!("<... {name} resumed>")
            } else {
                " <unfinished ...>".to_string()
            }
        }
        _ => rng
            .pick(&[
                "\"",
                "\\",
                "{",
                "}",
                "(",
                ")",
                "[",
                "]",
                ",",
                "=",
                " ",
                "...",
                "<unfinished ...>",
                "\0",
                "é",
                "\u{fffd}",
                "+++",
                "---",
                " = 0",
                ") = 0",
                "\\x",
                "\\0",
                "NULL",
            ])
            .to_string(),
    }
}

/// One random mutation of `line`; `donor` is another recorded line (for splices).
fn mutate_line(rng: &mut Rng, line: &str, donor: &str) -> String {
    match rng.below(9) {
        0 => {
            // Flip a byte (a bit, or any value); lossy, as the tracer reads bytes.
            let mut bytes = line.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = rng.below(bytes.len());
                bytes[i] = if rng.chance(1, 2) {
                    bytes[i] ^ (1 << rng.below(8))
                } else {
                    rng.next() as u8
                };
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => {
            // Truncate (at a byte: may cut a character, made lossy).
            let cut = rng.below(line.len() + 1);
            String::from_utf8_lossy(&line.as_bytes()[..cut]).into_owned()
        }
        2 => {
            let (start, end) = random_range(rng, line);
            format!("{}{}", &line[..start], &line[end..])
        }
        3 => {
            let (start, end) = random_range(rng, line);
            format!("{}{}", &line[..end], &line[start..])
        }
        4 => {
            // Swap two characters.
            let mut chars: Vec<char> = line.chars().collect();
            if !chars.is_empty() {
                let (a, b) = (rng.below(chars.len()), rng.below(chars.len()));
                chars.swap(a, b);
            }
            chars.into_iter().collect()
        }
        5 | 6 => {
            let at = random_boundary(rng, line);
            let text = insertion(rng, line);
            format!("{}{text}{}", &line[..at], &line[at..])
        }
        7 => {
            // Splice: the head of this line, the tail of another.
            let a = random_boundary(rng, line);
            let b = random_boundary(rng, donor);
            format!("{}{}", &line[..a], &donor[b..])
        }
        _ => {
            // Replace a number with a huge one.
            let digits: Vec<usize> = line
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if digits.is_empty() {
                return format!("{line}{}", insertion(rng, line));
            }
            let start = *rng.pick(&digits);
            let end = start + line[start..].bytes().take_while(u8::is_ascii_digit).count();
            let huge = rng.pick(&[
                "18446744073709551616",
                "4294967296",
                "2147483648",
                "65536",
                "99999999999999999999999999",
            ]);
            format!("{}{huge}{}", &line[..start], &line[end..])
        }
    }
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[test]
fn arbitrary_bytes_never_panic_nor_judge_clean_when_rejected() {
    let policy = policy(ALLOW);
    let cases = iterations();
    let mut failures = Failures::default();
    let mut notes = Notes::default();
    for case in 0..cases {
        let mut rng = Rng::for_case(1, case);
        let bytes = arbitrary_bytes(&mut rng);
        let text = String::from_utf8_lossy(&bytes);
        let lines = split_lines(&mut rng, &text);
        let label = format!("arbitrary bytes, case {case}");
        if let Some(o) = failures.judge(&label, &lines, &policy, None) {
            let class = match (o.verdict.verdict, o.replay.errors.is_empty()) {
                (v, true) => format!("{v}, every line parsed"),
                (v, false) => format!("{v}, a line rejected"),
            };
            notes.note(&class, || format!("{:?}", lines.join("\n")));
        }
    }
    notes.print("arbitrary bytes");
    failures.assert_none("arbitrary bytes", cases);
}

#[test]
fn mutated_recorded_lines_fail_closed() {
    let traces = recorded_traces();
    let cases = iterations();
    let mut failures = Failures::default();
    let mut notes = Notes::default();
    for case in 0..cases {
        let mut rng = Rng::for_case(2, case);
        let trace = rng.pick(&traces);
        if trace.lines.is_empty() {
            continue;
        }
        let mut lines = trace.lines.clone();
        let rounds = if rng.chance(3, 4) {
            1
        } else {
            2 + rng.below(4)
        };
        let mut whole_line_ops = false;
        for _ in 0..rounds {
            let i = rng.below(lines.len());
            let donor_trace = rng.pick(&traces);
            let donor = if donor_trace.lines.is_empty() {
                String::new()
            } else {
                rng.pick(&donor_trace.lines).clone()
            };
            match rng.below(12) {
                0 => {
                    lines.remove(i);
                    whole_line_ops = true;
                }
                1 => {
                    let line = lines[i].clone();
                    lines.insert(i, line);
                    whole_line_ops = true;
                }
                2 => {
                    let j = rng.below(lines.len());
                    lines.swap(i, j);
                    whole_line_ops = true;
                }
                3 => {
                    lines.insert(i, donor);
                    whole_line_ops = true;
                }
                _ => lines[i] = mutate_line(&mut rng, &lines[i], &donor),
            }
            if lines.is_empty() {
                break;
            }
        }
        let label = format!("{} mutated, case {case}", trace.name);
        if let Some(o) = failures.judge(&label, &lines, &trace.policy, Some(&trace.original)) {
            let was = trace.original.verdict.verdict;
            let now = o.verdict.verdict;
            if was != now {
                let how = if whole_line_ops {
                    "lines moved"
                } else {
                    "lines mutated"
                };
                let parsed = if o.replay.errors.is_empty() {
                    "parsed"
                } else {
                    "rejected"
                };
                notes.note(&format!("{was} -> {now} ({how}, {parsed})"), || {
                    let changed: Vec<&String> = lines
                        .iter()
                        .filter(|l| !trace.lines.contains(l))
                        .take(2)
                        .collect();
                    format!("{}: {changed:?}", trace.name)
                });
            }
        }
    }
    notes.print("mutated recorded lines");
    failures.assert_none("mutated recorded lines", cases);
}

/// Where the return value of a syscall line starts: just after the last `=` that follows
/// a `)` (strace pads with spaces before it). None for other lines.
fn return_start(line: &str) -> Option<usize> {
    line.char_indices()
        .rev()
        .filter(|(_, c)| *c == '=')
        .find(|(i, _)| line[..*i].trim_end().ends_with(')'))
        .map(|(i, _)| i + 1)
}

/// The text between the pid and the first `(` (the call's name on a syscall line).
fn call_name(line: &str) -> &str {
    let rest = line
        .trim_start()
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    rest.split('(').next().unwrap_or(rest)
}

fn first_token(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

fn is_signal_line(line: &str) -> bool {
    line.trim_start()
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start()
        .starts_with("---")
}

/// The lines of `trace` to cut or corrupt: all of them when exhaustive, else a sample.
fn lines_to_cover(rng: &mut Rng, trace: &Recorded, exhaustive: bool) -> Vec<usize> {
    const SAMPLE: usize = 6;
    let mut all: Vec<usize> = (0..trace.lines.len()).collect();
    if exhaustive || all.len() <= SAMPLE {
        return all;
    }
    // Keep the lines findings came from, then fill up at random.
    let mut chosen: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| {
            let line = trace.lines[i].trim();
            trace.original.verdict.findings.iter().any(|f| {
                let call = f.trace.split_once(' ').map_or("", |(_, c)| c);
                !call.is_empty() && line.ends_with(call)
            })
        })
        .take(SAMPLE / 2)
        .collect();
    all.retain(|i| !chosen.contains(i));
    while chosen.len() < SAMPLE && !all.is_empty() {
        let k = rng.below(all.len());
        chosen.push(all.swap_remove(k));
    }
    chosen.sort();
    chosen
}

#[test]
fn cutting_or_corrupting_a_leaked_traces_line_never_judges_clean() {
    let traces = recorded_traces();
    let leaked: Vec<&Recorded> = traces
        .iter()
        .filter(|t| t.original.verdict.verdict == VerdictKind::Leaked)
        .collect();
    assert!(leaked.len() > 20, "only {} leaked traces", leaked.len());
    let exhaustive = iterations() >= 20_000;
    let corruptions_per_line = (iterations() / 1000).clamp(4, 200) as usize;
    let mut failures = Failures::default();
    let mut notes = Notes::default();
    let mut cases = 0u64;
    for (t, trace) in leaked.iter().enumerate() {
        let mut rng = Rng::for_case(3, t as u64);
        for i in lines_to_cover(&mut rng, trace, exhaustive) {
            let line = &trace.lines[i];
            let ret = return_start(line);
            // Every cut of the line, at each character.
            for p in (1..line.len()).filter(|&p| line.is_char_boundary(p)) {
                let cut = &line[..p];
                if cut.trim().is_empty() {
                    continue; // the line deleted: may remove the leak
                }
                cases += 1;
                let mut lines = trace.lines.clone();
                lines[i] = cut.to_string();
                let label = format!("{} line {i} cut at {p}", trace.name);
                let Some(o) = failures.judge(&label, &lines, &trace.policy, Some(&trace.original))
                else {
                    continue;
                };
                let before_return = ret.is_none_or(|r| p < r);
                if before_return && !is_signal_line(line) && o.replay.errors.is_empty() {
                    failures.add(format!(
                        "{label}: a line cut before its return value was accepted: {cut:?}"
                    ));
                }
                let token_kept =
                    ret.is_none_or(|r| p < r || first_token(&line[r..]) == first_token(&cut[r..]));
                if o.verdict.verdict == VerdictKind::Clean {
                    if token_kept {
                        failures.add(format!(
                            "{label}: cutting a line of a leaked trace made it clean: \
                             {cut:?} (was {line:?})\nverdict: {:#?}",
                            o.verdict
                        ));
                    } else {
                        notes.note("cut the return value's first token: clean", || {
                            format!("{}: {cut:?}", trace.name)
                        });
                    }
                }
            }
            // One byte corrupted, at random places and to random values.
            for _ in 0..corruptions_per_line {
                if line.is_empty() {
                    break;
                }
                let mut bytes = line.as_bytes().to_vec();
                let at = rng.below(bytes.len());
                let choices = [
                    rng.next() as u8,
                    bytes[at] ^ (1 << rng.below(8)),
                    0xff,
                    b'"',
                    b'\\',
                    b'(',
                    b')',
                    b'{',
                    b'}',
                    b',',
                    b'=',
                    b' ',
                    b'0' + rng.below(10) as u8,
                ];
                bytes[at] = *rng.pick(&choices);
                let corrupted = String::from_utf8_lossy(&bytes).into_owned();
                if corrupted == *line {
                    continue;
                }
                cases += 1;
                let mut lines = trace.lines.clone();
                lines[i] = corrupted.clone();
                let label = format!("{} line {i} byte {at} corrupted", trace.name);
                // Rejected: not clean; the same events: still leaked (both checked by
                // `judge`). Another valid line may legitimately be clean: only noted.
                if let Some(o) =
                    failures.judge(&label, &lines, &trace.policy, Some(&trace.original))
                {
                    if o.verdict.verdict == VerdictKind::Clean {
                        let class = if call_name(&corrupted) != call_name(line) {
                            "one byte corrupted, in the call's name: clean"
                        } else {
                            "one byte corrupted, elsewhere: clean"
                        };
                        notes.note(class, || {
                            format!("{}: {corrupted:?} (was {line:?})", trace.name)
                        });
                    }
                }
            }
        }
    }
    notes.print("leaked traces cut or corrupted");
    failures.assert_none("leaked traces cut or corrupted", cases);
}

/// Inputs that once panicked, and extremes the random tests rarely reach.
#[test]
fn pathological_inputs_never_panic_nor_judge_clean_when_rejected() {
    let policy = policy(ALLOW);
    let execve = r#"1 execve("/bin/x", ["x"], 0x7ffd /* 2 vars */) = 0"#;
    let exit = "1 +++ exited with 0 +++";
    let wrap = |middle: Vec<String>| {
        let mut lines = vec![execve.to_string()];
        lines.extend(middle);
        lines.push(exit.to_string());
        lines
    };
    let many = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
    let inputs: Vec<Vec<String>> = vec![
        // Panicked in netlink_types (a byte index inside U+FFFD); fixed in the parser.
        wrap(vec![
            "1 sendto(3, [{nlmsg\u{fffd}len=20, nlmsg_type=RTM_GETADDR}], 20, 0, NULL, 0) = 20"
                .into(),
        ]),
        wrap(vec!["1 sendto(3, é nlmsg_type=é, 1, 0, NULL, 0) = 1".into()]),
        wrap(vec!["1 sendto(3, nlmsg_type=".into()]),
        wrap(vec!["(".repeat(100_000)]),
        wrap(vec![format!("1 connect({}3, NULL, 0) = 0", "(".repeat(50_000))]),
        wrap(vec![format!("1 connect(3, {}) = 0", "{".repeat(50_000))]),
        wrap(vec![format!("1 sendto(3, \"{}\", 1, 0, NULL, 0) = 1", "\\".repeat(100_001))]),
        wrap(vec!["\"".repeat(100_001)]),
        wrap(vec![format!(
            "1 sendto(3, \"{}\", 1, 0, NULL, 0) = 1",
            "x".repeat(1 << 20)
        )]),
        wrap(vec!["1 sendto(3, \"\\777\\x\\xZ\\\", 1, 0, NULL, 0) = 1".into()]),
        wrap(vec!["1 sendto(3, \"\\".into()]),
        wrap(vec![
            "99999999999999999999999 connect(3, {sa_family=AF_INET, sin_port=htons(99999), sin_addr=inet_addr(\"1.2.3.4\")}, 16) = 0".into(),
        ]),
        wrap(vec![
            "1 connect(3, {sa_family=AF_INET6, sin6_port=htons(65536), inet_pton(AF_INET6, \"::ffff:1.2.3.4\", &sin6_addr)}, 28) = 0".into(),
        ]),
        wrap(vec![
            "1 connect(3, {sa_family=AF_UNIX, sun_path=@\"\\0\\377\"}, 110) = 0".into(),
        ]),
        wrap(vec!["1 sendmmsg(3, [], 0, 0) = 0".into()]),
        wrap(vec!["1 sendmmsg(3, [...], 1, 0) = 1".into()]),
        wrap(vec!["1 sendmmsg(3, [{}, {msg_hdr=}, {msg_hdr={msg_name=}}], 3, 0) = 3".into()]),
        wrap(vec!["1 sendmsg(3, {msg_name=}, 0) = 0".into()]),
        wrap(vec!["1 execve(\"/bin/x\", [], 0x1) = -1 (errno 99999999999999999999999)".into()]),
        wrap(vec!["1 execve(\"/bin/x\", [], 0x1 <pid changed to 99999999999 ...>".into()]),
        wrap(vec!["1 execve(\"/bin/x\", [], 0x1 <pid changed to 2 ...>".into()]),
        wrap(vec![
            "1 +++ exited with 99999999999 +++".into(),
            "1 +++ killed by +++".into(),
            "1 +++ thread named \"\\\" +++".into(),
            "1 +++ thread named +++".into(),
            "1 +++".into(),
            "+++ +++".into(),
        ]),
        wrap(vec![
            "1 <... ".into(),
            "1 <... resumed>".into(),
            "1 <...  resumed>) = 0".into(),
            "<unfinished ...>".into(),
            "1 <unfinished ...>".into(),
            "1 <... x resumed> <unfinished ...>".into(),
        ]),
        // A call split over many lines, and many calls left unfinished.
        wrap(
            std::iter::once("1 connect(3, <unfinished ...>".to_string())
                .chain(many(2000, &|_| "1 <... connect resumed> <unfinished ...>".into()))
                .collect(),
        ),
        wrap(many(5000, &|i| {
            format!("{i} connect(3, {{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"192.0.2.1\")}}, 16 <unfinished ...>")
        })),
        wrap(many(5000, &|i| format!("{i} +++ exited with 0 +++"))),
        vec![String::new(); 10_000],
        vec!["\n\r\0\u{fffd}".to_string()],
    ];
    let mut failures = Failures::default();
    for (i, lines) in inputs.iter().enumerate() {
        failures.judge(&format!("pathological input {i}"), lines, &policy, None);
    }
    failures.assert_none("pathological inputs", inputs.len() as u64);
}

/// Lines strace never prints (a corrupted byte or a cut return value) that the judge
/// found clean although their originals are leaked or unverified: places where the
/// parser accepted what it did not understand. None of them may be clean.
#[test]
fn fail_open_inputs_found_by_fuzzing() {
    let dir = root().join("leakcheck/tests/traces");
    let read = |file: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .lines()
            .map(str::to_string)
            .collect()
    };
    let replace = |file: &str, from: &str, to: &str| -> (String, Vec<String>) {
        let mut lines = read(file);
        let hit = lines
            .iter_mut()
            .find(|l| l.contains(from))
            .unwrap_or_else(|| panic!("{file}: no line with {from:?}"));
        *hit = hit.replacen(from, to, 1);
        (format!("{file}: {from:?} -> {to:?}"), lines)
    };
    let failed_bind = |ret: &str| -> (String, Vec<String>) {
        let lines = [
            r#"1 execve("./x", ["./x"], 0x7ffd /* 2 vars */) = 0"#.to_string(),
            "1 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3".into(),
            format!(r#"1 bind(3, {{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}}, 16) ={ret}"#),
            "1 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 4".into(),
            r#"1 connect(4, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 ECONNREFUSED (Connection refused)"#.into(),
            "1 +++ exited with 0 +++".into(),
        ];
        (
            format!("failed bind, then connect to it; bind returns {ret:?}"),
            lines.to_vec(),
        )
    };
    let cases = [
        // A resolver socket whose sun_path field is unreadable is taken for an unnamed
        // unix socket: the name lookup vanishes.
        replace(
            "resolved_varlink.trace",
            "sun_path=\"/run/",
            "s\u{fffd}n_path=\"/run/",
        ),
        replace(
            "resolved_varlink.trace",
            "sun_path=\"/run/",
            "su,_path=\"/run/",
        ),
        // A socket type that is not a type strace prints (or a fourth argument) is taken
        // for an ordinary IP socket: the raw socket vanishes.
        replace("raw_socket.trace", "SOCK_RAW", "SOCK_R\u{fffd}W"),
        replace("raw_socket.trace", "SOCK_RAW", "SOCK_R,W"),
        // A msghdr whose msg_name field is unreadable is taken for one without a
        // destination (strace always prints msg_name, NULL or not).
        replace("sendmsg_name.trace", "{msg_name=", "{msg_na\u{fffd}e="),
        // An errno too large for u64 is not recognised as strace's lost-call marker.
        replace(
            "exec_from_thread_lost.trace",
            "(errno 18446744073709551574)",
            "(errno 184467440737095515740)",
        ),
        // An empty (or non-numeric) return value counts as success: a failed execve
        // "starts" the program, a failed bind makes the address the tree's own.
        replace("exec_failed.trace", "= -1 ENOEXEC (Exec format error)", "="),
        replace(
            "exec_failed.trace",
            "= -1 ENOEXEC (Exec format error)",
            "= \u{fffd}",
        ),
        failed_bind(""),
        failed_bind(" x"),
    ];
    let policy = policy(ALLOW);
    // The control: with its real return value the failed bind owns nothing.
    let (label, lines) = failed_bind(" -1 EADDRINUSE (Address already in use)");
    let control = judge(&lines, &policy).unwrap_or_else(|p| panic!("{label}: panic: {p}"));
    assert_eq!(control.verdict.verdict, VerdictKind::Leaked, "{label}");
    let mut clean = Vec::new();
    for (label, lines) in &cases {
        let o = judge(lines, &policy).unwrap_or_else(|p| panic!("{label}: panic: {p}"));
        println!("{}: {label}", o.verdict.verdict);
        if o.verdict.verdict == VerdictKind::Clean {
            clean.push(format!("{label}\n{}", show(lines)));
        }
    }
    assert!(clean.is_empty(), "judged clean:\n{}", clean.join("\n"));
}
