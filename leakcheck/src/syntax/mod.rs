//! strace's syntax, read and written in one place.
//!
//! The strace backend's text is parsed here into [`Event`](crate::event::Event)s. The
//! native tracer's calls are typed [`Line`]s, whose events are read off their values
//! ([`Line::event_kind`]) and which are written in the same syntax only when their text is
//! wanted ([`render`]: `LEAKCHECK_KEEP_TRACE`, the `trace` field a finding quotes), so a
//! kept trace replays to the same verdict. Either way an event travels with how the trace
//! shows it ([`Shown`]).
//!
//! Files: `parse.rs` (the streaming [`Parser`]: lines, notices, split calls), `call.rs`
//! (one call's text into an event), `frame.rs` (strace's stack lines, `-k`),
//! `sockaddr.rs` (socket addresses), `lex.rs` (strace's text structures: C strings,
//! nesting, `key=value` fields), `names.rs` (the names of numbers, both ways); `line.rs`
//! (a line as typed values: what the native tracer read), `render.rs` (a typed line in
//! strace's syntax), `interpret.rs` (the event a typed line shows, which is the event its
//! text parses into).
//!
//! The parser picks destinations by system call name and argument position, never by
//! scanning a whole line for `{sa_family=`: payload strings, `ioctl` and `recvfrom`
//! lines carry text that looks like addresses. Strings are skipped by honouring strace's
//! C escapes, so a payload cannot forge an address field.
//!
//! A line it does not understand is an error, never a silent skip: the caller turns it
//! into an `unverified` verdict.

mod call;
mod frame;
mod interpret;
mod lex;
mod line;
mod names;
mod parse;
pub mod render;
#[cfg(test)]
mod roundtrip;
mod shown;
mod sockaddr;
#[cfg(test)]
mod tests;

pub use frame::{is_frame_line, parse_frame};
pub use lex::parse_string;
pub use line::{
    Addr, Buf, Call, Iov, Line, Msg, MsgHdr, Msgs, Ret, SockAddrBytes, Spawn, MAX_SOCKADDR,
};
pub use parse::{split_pid, ParseError, Parser, Unfinished};
pub use shown::Shown;
