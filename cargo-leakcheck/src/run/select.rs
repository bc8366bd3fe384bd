//! Which tests run, as libtest would choose them (`TESTNAME` and the options after
//! `--`), and which part of them (`--partition`).

/// One test of a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// The full path, e.g. `fetch::resolves_locally`.
    pub name: String,
    /// Marked `#[ignore]`.
    pub ignored: bool,
}

/// libtest's selection options, from `TESTNAME` and what follows `--`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Substring filters (any matches); exact names with `--exact`.
    pub filters: Vec<String>,
    /// `--exact`.
    pub exact: bool,
    /// `--skip` patterns.
    pub skip: Vec<String>,
    /// `--ignored`: only ignored tests.
    pub ignored_only: bool,
    /// `--include-ignored`.
    pub include_ignored: bool,
    /// `--test-threads` given after `--`.
    pub test_threads: Option<usize>,
    /// `-q`, `--quiet` or `--format terse` after `--` (`Some(false)` for `--format
    /// pretty`): how the lines are shown, not which tests run.
    pub terse: Option<bool>,
}

impl Selection {
    /// Reads `TESTNAME` and the libtest options after `--`. Unknown options are an error
    /// naming them, not silently dropped.
    pub fn parse(filter: Option<&str>, libtest: &[String]) -> Result<Selection, String> {
        let mut sel = Selection::default();
        sel.filters.extend(filter.map(String::from));
        let mut args = libtest.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("`{name}` needs a value"))
            };
            match arg.as_str() {
                "--exact" => sel.exact = true,
                "--ignored" => sel.ignored_only = true,
                "--include-ignored" => sel.include_ignored = true,
                "--skip" => sel.skip.push(value("--skip")?),
                "--test-threads" => {
                    let v = value("--test-threads")?;
                    sel.test_threads = Some(v.parse().map_err(|_| {
                        format!("--test-threads {v}: expected a positive number")
                    })?);
                }
                // Accepted for compatibility; output capture is ours and always on.
                "--nocapture" | "--no-capture" | "--show-output" => {}
                "--quiet" | "-q" => sel.terse = Some(true),
                "--format" => sel.terse = Some(format(&value("--format")?)?),
                a if a.starts_with("--format=") => sel.terse = Some(format(&a["--format=".len()..])?),
                a if a.starts_with("--skip=") => sel.skip.push(a["--skip=".len()..].to_string()),
                a if a.starts_with("--test-threads=") => {
                    let v = &a["--test-threads=".len()..];
                    sel.test_threads = Some(v.parse().map_err(|_| {
                        format!("--test-threads {v}: expected a positive number")
                    })?);
                }
                a if a.starts_with('-') => {
                    return Err(format!(
                        "unsupported test harness option `{a}` after `--`\n(hint: leakcheck understands --exact, --skip, --ignored, --include-ignored, --test-threads, --format pretty|terse, -q)"
                    ))
                }
                filter => sel.filters.push(filter.to_string()),
            }
        }
        Ok(sel)
    }

    /// Whether a test passes the filters: its name, and with `--ignored` its being
    /// ignored (libtest counts the others as filtered out).
    pub fn selects(&self, case: &TestCase) -> bool {
        self.matches(&case.name) && (!self.ignored_only || case.ignored)
    }

    /// Whether a test of this name passes the filters.
    pub fn matches(&self, name: &str) -> bool {
        let hit = |pattern: &str| {
            if self.exact {
                name == pattern
            } else {
                name.contains(pattern)
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(|f| hit(f)))
            && !self.skip.iter().any(|s| hit(s))
    }

    /// Whether an (un)ignored test runs under these options.
    pub fn runs(&self, case: &TestCase) -> bool {
        if self.ignored_only {
            case.ignored
        } else {
            self.include_ignored || !case.ignored
        }
    }
}

/// libtest's `--format`: terse or pretty (`json` and `junit` need nightly's
/// `-Zunstable-options`, and leakcheck has its own: `--message-format json`, `--junit`).
fn format(value: &str) -> Result<bool, String> {
    match value {
        "terse" => Ok(true),
        "pretty" => Ok(false),
        other => Err(format!(
            "unsupported test harness option `--format {other}` after `--`\n(hint: leakcheck writes libtest's pretty or terse lines; for JSON use `--message-format json`, for JUnit `--junit PATH`)"
        )),
    }
}

/// Keeps the `K`th of `N` parts of the tests, numbered over all binaries in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Every Nth test, starting with the Kth.
    Count {
        /// 1-based part.
        k: u64,
        /// Number of parts.
        n: u64,
    },
    /// Tests whose name hashes to K modulo N: stable when tests are added.
    Hash {
        /// 1-based part.
        k: u64,
        /// Number of parts.
        n: u64,
    },
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "--partition {s}: expected count:K/N or hash:K/N with 1 <= K <= N, e.g. count:1/2"
            )
        };
        let (mode, rest) = s.split_once(':').ok_or_else(bad)?;
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.parse().map_err(|_| bad())?;
        let n: u64 = n.parse().map_err(|_| bad())?;
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        match mode {
            "count" => Ok(Partition::Count { k, n }),
            "hash" => Ok(Partition::Hash { k, n }),
            _ => Err(bad()),
        }
    }
}

impl Partition {
    /// Whether the test at position `index` (over all binaries) named `binary`/`name` is in this part.
    pub fn keeps(&self, index: u64, binary: &str, name: &str) -> bool {
        match *self {
            Partition::Count { k, n } => index % n == k - 1,
            Partition::Hash { k, n } => {
                // FNV-1a: stable across Rust versions and machines, unlike DefaultHasher.
                let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
                for byte in binary.bytes().chain([0]).chain(name.bytes()) {
                    hash ^= u64::from(byte);
                    hash = hash.wrapping_mul(0x0100_0000_01b3);
                }
                hash % n == k - 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_split_exactly() {
        for spec in ["count", "hash"] {
            let parts: Vec<Partition> = (1..=3)
                .map(|k| format!("{spec}:{k}/3").parse().unwrap())
                .collect();
            for i in 0..100u64 {
                let name = format!("t{i}");
                let hits = parts.iter().filter(|p| p.keeps(i, "bin", &name)).count();
                assert_eq!(hits, 1, "{spec} test {i}");
            }
        }
        assert!("count:0/2".parse::<Partition>().is_err());
        assert!("count:3/2".parse::<Partition>().is_err());
        assert!("slice:1/2".parse::<Partition>().is_err());
    }

    #[test]
    fn selection_reads_libtest_options() {
        let sel = Selection::parse(
            Some("net"),
            &[
                "--exact".into(),
                "--skip".into(),
                "slow".into(),
                "--include-ignored".into(),
            ],
        )
        .unwrap();
        assert!(sel.exact && sel.include_ignored);
        assert!(sel.matches("net"));
        assert!(!sel.matches("net::x"));
        assert!(Selection::parse(None, &["--bogus".into()]).is_err());
    }
}
