//! The marker lines between the traced child and its parent: the child writes them
//! around the body, the parent reads them back from the child's output ([`Transcript`]).

use super::spec::TestResult;
use std::any::Any;
use std::io::Write as _;
use std::panic::resume_unwind;

/// The marker of one re-run's lines: the nonce tells them from anything the body prints.
fn frame_prefix(nonce: &str) -> String {
    format!("[leak_free:{nonce}]")
}

/// Writes one protocol line straight to stdout (bypassing libtest's capture), starting
/// on a fresh line whatever the body printed before.
fn write_frame(nonce: &str, what: &str, text: Option<&str>) {
    let mut line = format!("\n{} {what}", frame_prefix(nonce));
    if let Some(text) = text {
        line.push(' ');
        line.push_str(&serde_json::Value::from(text).to_string());
    }
    line.push('\n');
    let mut out = std::io::stdout().lock();
    let _ = out.flush();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

/// The child's first line: the body is about to run (see [`Transcript::started`]).
pub(super) fn announce(nonce: &str, name: &str) {
    write_frame(nonce, "started", Some(name));
}

/// The child's last line, saying how the body ended; then ends as the body did.
pub(super) fn finish<R: TestResult>(nonce: &str, result: std::thread::Result<R>) -> R {
    match result {
        Ok(value) => {
            match value.failure() {
                Some(error) => write_frame(nonce, "error", Some(&error)),
                None => write_frame(nonce, "passed", None),
            }
            value
        }
        Err(payload) => {
            write_frame(nonce, "panicked", Some(&panic_message(&*payload)));
            resume_unwind(payload)
        }
    }
}

/// The text of a panic payload, as libtest matches `should_panic(expected = ...)`.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// How the body ended in the child, read from its protocol lines.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // read by the parent, on Linux
pub(super) enum BodyEnd {
    /// The body returned normally (`()` or `Ok`).
    Passed,
    /// The body panicked with this message.
    Panicked(String),
    /// The body returned `Err`, shown with `{:?}` as libtest does.
    Error(String),
}

/// The child's output, split along the protocol lines.
#[derive(Debug, Default)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // read by the parent, on Linux
pub(super) struct Transcript {
    /// The marker line was seen.
    pub(super) started: bool,
    /// How the body ended, when the child got that far.
    pub(super) end: Option<BodyEnd>,
    /// What the body printed (between the marker and the end line).
    pub(super) body_output: String,
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // read by the parent, on Linux
impl Transcript {
    /// Splits the child's output along the lines whose marker carries `nonce`.
    pub(super) fn parse(output: &str, nonce: &str) -> Transcript {
        let prefix = format!("{} ", frame_prefix(nonce));
        let mut transcript = Transcript::default();
        let mut body = Vec::new();
        for line in output.split('\n') {
            if let Some(rest) = line.strip_prefix(&prefix) {
                let (what, arg) = rest.split_once(' ').unwrap_or((rest, ""));
                let text =
                    || serde_json::from_str::<String>(arg).unwrap_or_else(|_| arg.to_string());
                match what {
                    "started" if !transcript.started => transcript.started = true,
                    "passed" if transcript.end.is_none() => transcript.end = Some(BodyEnd::Passed),
                    "panicked" if transcript.end.is_none() => {
                        transcript.end = Some(BodyEnd::Panicked(text()))
                    }
                    "error" if transcript.end.is_none() => {
                        transcript.end = Some(BodyEnd::Error(text()))
                    }
                    _ => {}
                }
                continue;
            }
            if transcript.started && transcript.end.is_none() {
                body.push(line);
            }
        }
        // Our lines start with a newline of their own: drop the empty line that leaves.
        while body.last().is_some_and(|l| l.trim().is_empty()) {
            body.pop();
        }
        if !body.is_empty() {
            transcript.body_output = body.join("\n") + "\n";
        }
        transcript
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript() {
        let out = "\nrunning 1 test\ntest a::b ... \n[leak_free:N] started \"a::b\"\nhello\nworld\n\n[leak_free:N] panicked \"boom\\nline 2\"\nFAILED\n";
        let t = Transcript::parse(out, "N");
        assert!(t.started);
        assert_eq!(t.end, Some(BodyEnd::Panicked("boom\nline 2".into())));
        assert_eq!(t.body_output, "hello\nworld\n");
        let t = Transcript::parse("[leak_free:X] started \"a\"\n", "N");
        assert!(!t.started);
    }
}
