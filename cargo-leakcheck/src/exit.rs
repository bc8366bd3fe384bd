//! Exit statuses of DESIGN.md.

/// No leaks and no failures.
pub const CLEAN: u8 = 0;
/// At least one leak or unverified verdict.
pub const LEAKED: u8 = 1;
/// Usage, configuration, build or setup error.
pub const SETUP: u8 = 2;
/// Tests failed but nothing leaked.
pub const TEST_FAILED: u8 = 101;
