//! What cargo tells and does for us: the workspace's metadata, the build of the test
//! binaries, and the environment `cargo test` gives each of them.

pub mod build;
pub mod metadata;
pub mod test_env;

pub use build::{BuildError, BuildOptions, TestBinary};
pub use metadata::{MetadataError, Workspace};
