//! The reasons of ignored tests (`#[ignore = "reason"]`), which libtest shows
//! (`test x ... ignored, reason`) and its `--list` does not give. A batch run's log has
//! them; without one (`--per-test`, `--partition`, nothing else to run), one traced run of
//! the binary that selects only the ignored tests, and so runs none, writes them to its
//! log.

use super::context::Settings;
use super::libtest;
use super::select::TestCase;
use super::test_command::{test_binary_command, Output};
use crate::cargo::TestBinary;
use leakcheck::judge::Judge;
use leakcheck::Policy;
use std::collections::HashMap;

/// Past this many bytes of names, the reasons are not asked for (a command line has a
/// limit); the lines then say `ignored` alone.
const MAX_NAMES_BYTES: usize = 64 * 1024;

/// The reasons of `ignored` (tests that will not run), and the unfinished judge of the
/// run that told them (what that run did belongs to every test of the binary, as the
/// `--list` runs' does). Nothing when the run cannot be made: the lines then lack the
/// reasons, nothing else.
pub fn reasons(
    settings: &Settings,
    binary: &TestBinary,
    ignored: &[&TestCase],
) -> (HashMap<String, String>, Option<Judge>) {
    let names: Vec<&str> = ignored.iter().map(|c| c.name.as_str()).collect();
    let bytes: usize = names.iter().map(|n| n.len() + 1).sum();
    // rustdoc's `ignore` has no reason, and its filters cannot name a doctest whole.
    if names.is_empty() || bytes > MAX_NAMES_BYTES || binary.doctests {
        return (HashMap::new(), None);
    }
    let Ok(dir) = tempfile::Builder::new()
        .prefix("leakcheck-ignored-")
        .tempdir()
    else {
        return (HashMap::new(), None);
    };
    let log = dir.path().join("libtest.log");
    let attribute_file = dir.path().join("attributes");
    let mut args: Vec<String> = vec!["--exact".into()];
    args.extend(names.iter().map(|n| n.to_string()));
    args.extend([
        "--test-threads".to_string(),
        "1".into(),
        "--logfile".into(),
        log.display().to_string(),
    ]);
    let cmd = test_binary_command(
        settings,
        binary,
        args,
        Output::Captured {
            attribute_file: &attribute_file,
        },
    );
    let Ok((judge, _)) = leakcheck::trace(&settings.tracer, &cmd, Policy::default()) else {
        return (HashMap::new(), None);
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    (libtest::ignore_reasons(&text, &names), Some(judge))
}
