//! The streaming parser: strace's lines in trace order, with calls split across threads
//! (`<unfinished ...>`, `<... resumed>`) put back together.

use super::call::parse_call;
use super::frame::{is_frame_line, parse_frame};
use super::shown::Shown;
use crate::event::{Event, EventKind, ProcessEnd};
use std::collections::HashMap;

/// A trace line the parser could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse trace line ({reason}): {line}")]
pub struct ParseError {
    /// What was wrong.
    pub reason: String,
    /// The line as read.
    pub line: String,
}

/// A streaming parser: feed it lines in trace order.
///
/// It keeps the first half of calls that strace split across threads
/// (`<unfinished ...>`) until their `<... resumed>` line arrives.
#[derive(Debug, Default)]
pub struct Parser {
    pending: HashMap<u32, String>,
    /// The task whose call the last line completed: strace's stack lines (`-k`), which
    /// have no pid, are the stack of that call.
    last_pid: Option<u32>,
}

impl Parser {
    /// A parser with no pending calls.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Parses one line (without its newline), appending the events it yields to `out`.
    ///
    /// The first half of a split call yields nothing; the call is yielded when it resumes,
    /// or, if its process dies first, when the process's exit line arrives (the attempt
    /// counts even though it never returned).
    pub fn parse_line(&mut self, line: &str, out: &mut Vec<Event>) -> Result<(), ParseError> {
        self.feed(line, &mut |event, _| out.push(event))
    }

    /// [`Parser::parse_line`], handing each event to `emit` with the text it shows (the
    /// line after its pid, or the call put together from its halves). A line that cannot
    /// be parsed yields no event at all.
    pub fn feed(
        &mut self,
        line: &str,
        emit: &mut dyn FnMut(Event, Shown<'_>),
    ) -> Result<(), ParseError> {
        let err = |reason: &str| ParseError {
            reason: reason.to_string(),
            line: line.to_string(),
        };
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return Ok(());
        }
        if is_frame_line(trimmed) {
            // A stack line without a file (`backtracing_error`) only shortens a stack.
            if let (Some(pid), Some(frame)) = (self.last_pid, parse_frame(trimmed)) {
                emit(
                    Event {
                        pid,
                        kind: EventKind::Frame(frame),
                    },
                    Shown::Text(trimmed.trim_start()),
                );
            }
            return Ok(());
        }
        let (pid, rest) = split_pid(trimmed);
        // Set again below only when this line completes a call.
        self.last_pid = None;

        if let Some(notice) = rest.strip_prefix("+++ ") {
            let end = parse_exit(notice).ok_or_else(|| err("unknown process notice"))?;
            // A thread superseded by another thread's execve keeps its pending call: the
            // execve resumes under this pid.
            let flush = matches!(end, EventKind::Exit(_));
            if let Some(pending) = flush.then(|| self.pending.remove(&pid)).flatten() {
                // The call never returned: judge what its first half shows.
                let call = format!("{pending}) = ?");
                let event = parse_call(pid, &call).map_err(|reason| err(&reason))?;
                emit(event, Shown::Text(&call));
            }
            emit(Event { pid, kind: end }, Shown::Text(rest));
            return Ok(());
        }
        if rest.starts_with("--- ") {
            // Signal deliveries carry nothing to judge.
            return Ok(());
        }
        if let Some(resumed) = rest.strip_prefix("<... ") {
            let close = resumed
                .find(" resumed>")
                .ok_or_else(|| err("malformed resumed call"))?;
            let tail = &resumed[close + " resumed>".len()..];
            let head = self
                .pending
                .remove(&pid)
                .ok_or_else(|| err("a call resumed that never started"))?;
            let joined = format!("{head}{tail}");
            if let Some(half) = strip_unfinished(&joined) {
                self.pending.insert(pid, half.to_string());
                return Ok(());
            }
            let event = parse_call(pid, &joined).map_err(|reason| err(&reason))?;
            emit(event, Shown::Text(&joined));
            self.last_pid = Some(pid);
            return Ok(());
        }
        if let Some(half) = strip_unfinished(rest) {
            self.pending.insert(pid, half.to_string());
            return Ok(());
        }
        // An execve from a non-leader thread: the call resumes under the leader's pid.
        if let Some((half, new_pid)) = strip_pid_changed(rest) {
            self.pending.insert(new_pid, half.to_string());
            return Ok(());
        }
        let event = parse_call(pid, rest).map_err(|reason| err(&reason))?;
        emit(event, Shown::Text(rest));
        self.last_pid = Some(pid);
        Ok(())
    }

    /// Calls that started and never resumed (a trace that ended mid-call).
    pub fn take_unfinished(&mut self, out: &mut Vec<Event>) -> Vec<ParseError> {
        let unfinished = self.finish();
        out.extend(unfinished.calls.into_iter().map(|(event, _)| event));
        unfinished.errors
    }

    /// [`Parser::take_unfinished`], each call with its text (`HEAD) = ?`).
    pub fn finish(&mut self) -> Unfinished {
        let mut unfinished = Unfinished::default();
        let mut pending: Vec<_> = self.pending.drain().collect();
        pending.sort();
        for (pid, head) in pending {
            let call = format!("{head}) = ?");
            match parse_call(pid, &call) {
                Ok(event) => unfinished.calls.push((event, call)),
                Err(reason) => unfinished.errors.push(ParseError { reason, line: head }),
            }
        }
        unfinished
    }
}

/// What a trace that ended mid-call leaves: see [`Parser::finish`].
#[derive(Debug, Default)]
pub struct Unfinished {
    /// The first halves that could not be read.
    pub errors: Vec<ParseError>,
    /// The calls, each with its text.
    pub calls: Vec<(Event, String)>,
}

pub(super) fn strip_pid_changed(text: &str) -> Option<(&str, u32)> {
    let body = text.strip_suffix(" ...>")?;
    let start = body.rfind("<pid changed to ")?;
    let pid = body[start + "<pid changed to ".len()..].parse().ok()?;
    Some((text[..start].trim_end(), pid))
}

pub(super) fn strip_unfinished(text: &str) -> Option<&str> {
    text.strip_suffix("<unfinished ...>").map(str::trim_end)
}

pub fn split_pid(line: &str) -> (u32, &str) {
    let line = line.trim_start();
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        // strace prints no PID when it traces a single process without -f.
        return (0, line);
    }
    let pid = line[..digits].parse().unwrap_or(0);
    (pid, line[digits..].trim_start())
}

pub(super) fn parse_exit(notice: &str) -> Option<EventKind> {
    let notice = notice.strip_suffix("+++")?.trim_end();
    if let Some(code) = notice.strip_prefix("exited with ") {
        return code
            .trim()
            .parse()
            .ok()
            .map(|c| EventKind::Exit(ProcessEnd::Exited(c)));
    }
    if let Some(signal) = notice.strip_prefix("killed by ") {
        let name = signal.split_whitespace().next()?.to_string();
        return Some(EventKind::Exit(ProcessEnd::Killed(name)));
    }

    if notice.starts_with("superseded by execve") {
        return Some(EventKind::Nothing);
    }
    None
}
