//! strace's stack lines (`-k`): ` > /path/to/binary(symbol+0x10) [0x2e9b8]` after each
//! call, innermost frame first, without a pid (they belong to the call just written).
//! The bracketed number is the offset in the file; the symbol is not needed (the frame is
//! symbolized from the file's debug information) and not read.
//!
//! A stack line that does not have this shape (strace's `backtracing_error`, a frame
//! without a file) is skipped: a stack is only ever a hint, never part of a verdict.

use crate::event::Frame;
use std::fmt::Write as _;

/// Whether `line` is a stack line (` > ...`).
pub fn is_frame_line(line: &str) -> bool {
    line.trim_start().starts_with("> ")
}

/// The frame a stack line shows; None for one without a file and an offset.
pub fn parse_frame(line: &str) -> Option<Frame> {
    let body = line.trim_start().strip_prefix("> ")?.trim_end();
    let (head, offset) = body.strip_suffix(']')?.rsplit_once(" [0x")?;
    let offset = u64::from_str_radix(offset, 16).ok()?;
    // `PATH(SYMBOL)`: the symbol may hold parentheses itself (`<(&str, u16) as ..>`), so
    // its opening one is found by balancing them from the end.
    let symbol_start = opening_paren(head.strip_suffix(')')?)?;
    let module = &head[..symbol_start];
    module.starts_with('/').then(|| Frame {
        module: module.to_string(),
        offset,
    })
}

/// The index of the `(` that `text` + `)` closes.
fn opening_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => return Some(i),
            '(' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// A frame as strace writes it without a symbol: ` > PATH() [0xOFFSET]`.
pub fn render(out: &mut String, frame: &Frame) {
    let _ = write!(out, " > {}() [{:#x}]", frame.module, frame.offset);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(module: &str, offset: u64) -> Option<Frame> {
        Some(Frame {
            module: module.to_string(),
            offset,
        })
    }

    #[test]
    fn reads_strace_6_stack_lines() {
        assert_eq!(
            parse_frame(" > /usr/lib/x86_64-linux-gnu/libc.so.6(__connect+0x10) [0x10a7c0]"),
            frame("/usr/lib/x86_64-linux-gnu/libc.so.6", 0x10a7c0)
        );
        assert_eq!(
            parse_frame(" > /t/debug/deps/demo-1f2e(<(&str, u16) as std::net::socket_addr::ToSocketAddrs>::to_socket_addrs+0x49) [0xae899]"),
            frame("/t/debug/deps/demo-1f2e", 0xae899)
        );
        assert_eq!(
            parse_frame(" > /t/debug/deps/demo-1f2e(std::sys::net::connection::socket::lookup_host::{closure#0}+0x58) [0x8c808]"),
            frame("/t/debug/deps/demo-1f2e", 0x8c808)
        );
        assert_eq!(
            parse_frame(" > /opt/app/bin/prog() [0x1234]"),
            frame("/opt/app/bin/prog", 0x1234)
        );
        assert_eq!(
            parse_frame(" > /opt/my (app)/prog(main+0x1) [0x10]"),
            frame("/opt/my (app)/prog", 0x10)
        );
    }

    #[test]
    fn stack_lines_without_a_file_and_offset_are_no_frames() {
        for line in [
            " > backtracing_error [0x7f00]",
            " > unexpected_backtracing_error",
            " > BUG IN print_call_cb",
            " > /lib/libc.so.6(f+0x1) [0xzz]",
            " > /lib/libc.so.6(f+0x1)",
            " > (f+0x1) [0x10]",
        ] {
            assert!(is_frame_line(line), "{line}");
            assert_eq!(parse_frame(line), None, "{line}");
        }
        assert!(!is_frame_line("1234 connect(3, NULL, 0) = -1"));
        assert!(!is_frame_line("+++ exited with 0 +++"));
    }

    #[test]
    fn a_rendered_frame_reads_back() {
        let f = frame("/t/debug/demo", 0x2e9b8).unwrap();
        let mut out = String::new();
        render(&mut out, &f);
        assert_eq!(out, " > /t/debug/demo() [0x2e9b8]");
        assert_eq!(parse_frame(&out), Some(f));
    }
}
