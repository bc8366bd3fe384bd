//! `#[leak_free]` in a member of a workspace (rustc sees paths relative to the workspace
//! root): a `#[test]` above it is found, so no test is registered twice.

use leakcheck::leak_free;
use std::process::Command;

#[test]
#[leak_free]
fn test_above_in_a_workspace_member() {}

#[leak_free]
fn without_test_in_a_workspace_member() {}

#[leak_free]
#[test]
fn test_below_in_a_workspace_member() -> Result<(), String> {
    Ok(())
}

#[test]
fn every_test_is_listed_once() {
    let exe = std::env::current_exe().expect("current_exe");
    let output = Command::new(exe)
        .args(["--list", "--format", "terse"])
        .output()
        .expect("list the tests");
    let listing = String::from_utf8_lossy(&output.stdout);
    let mut names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "every_test_is_listed_once",
            "test_above_in_a_workspace_member",
            "test_below_in_a_workspace_member",
            "without_test_in_a_workspace_member",
        ],
        "{listing}"
    );
}
