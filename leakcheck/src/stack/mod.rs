//! Where in a traced program an attempt was made: the stack of the thread that made it,
//! and the first frame of it in the workspace's own code (a finding's `location`).
//!
//! The tracers deliver raw [`Frame`](crate::event::Frame)s (a mapped file and an offset
//! in it) right after the call that made a finding: the native tracer unwinds the stopped
//! thread itself ([`unwind`], from [`Regs`] and the memory of the thread while it waits),
//! strace prints them with `-k`. They become a source location only for the findings that
//! are reported ([`locate`]), with the binaries' debug information.
//!
//! Files: `maps.rs` (`/proc/PID/maps`), `regs.rs` (what an unwind starts from), `elf.rs`
//! (a binary's segments and unwind tables, read once per file), `unwind.rs` (framehop over
//! them), `symbolize.rs` (addr2line and the demangler), `workspace.rs` (which source
//! files are the workspace's own).

mod elf;
pub mod maps;
mod regs;
mod symbolize;
#[cfg(test)]
mod tests;
mod unwind;
mod workspace;

pub use regs::Regs;
pub use symbolize::{demangle, locate};
pub use unwind::{unwind, MAX_FRAMES};
pub use workspace::Workspace;
