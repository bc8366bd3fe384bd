//! How the trace shows an event: what a finding quotes.

use super::line::Line;
use super::render;
use std::borrow::Cow;

/// How the trace shows an event, for the findings and problems that quote it: strace's
/// text, or a line the native tracer read, rendered only when it is quoted.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    /// The text after the pid: strace's line, or a call put together from its halves.
    Text(&'a str),
    /// A line the native tracer read.
    Line(&'a Line<'a>),
}

impl Shown<'_> {
    /// `PID TEXT`: what a finding's `trace` field holds.
    pub fn quote(&self, pid: u32) -> String {
        match self {
            Shown::Text(text) => format!("{pid} {text}"),
            Shown::Line(line) => {
                let mut out = String::with_capacity(160);
                render::line(&mut out, pid, line);
                out
            }
        }
    }

    /// The text after the pid.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Shown::Text(text) => Cow::Borrowed(text),
            Shown::Line(line) => {
                let mut out = String::with_capacity(160);
                render::text(&mut out, line);
                Cow::Owned(out)
            }
        }
    }
}
