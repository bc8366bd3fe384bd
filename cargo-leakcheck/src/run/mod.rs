//! The test runner: plans a run, traces the tests, decides their verdicts, and tells the
//! reporter ([`crate::reporter`]) through [`crate::reporter::Event`]s.
//!
//! `cargo leakcheck` is a [`suite`] run: it builds the tests ([`crate::cargo`]),
//! [`plan`]s the run (listing every binary with [`list`], choosing with [`select`]),
//! then runs each [`binary`]: its [`batch`] trace, the tests run alone by [`single`],
//! what [`merge`]s into a verdict, what [`libtest`] shows besides (and, when no batch
//! run told, the [`ignored`] tests' reasons); a library's [`doctest`]s run as another binary; every test process starts from the one
//! [`test_command`], with the [`context`] every run shares. `cargo leakcheck run --
//! COMMAND` traces one [`command`]; `cargo leakcheck wrap` one test process a runner
//! starts ([`wrap`]).

pub mod batch;
pub mod binary;
pub mod command;
pub mod context;
pub mod doctest;
pub mod ignored;
pub mod isolation;
pub mod libtest;
pub mod list;
pub mod merge;
pub mod plan;
pub mod select;
pub mod single;
pub mod suite;
pub mod test_command;
pub mod wrap;
