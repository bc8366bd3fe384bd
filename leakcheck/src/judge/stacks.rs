//! Where the findings' attempts were made: the frames that follow the event that made a
//! finding (strace's ` > ` lines, or the native tracer's unwinding, which asks
//! [`Judge::wants_stack`] first) are kept for it, and become its `location` when the
//! verdict is given: only for the findings reported, since symbolizing reads the
//! binaries' debug information.

use super::findings::Target;
use super::Judge;
use crate::event::Frame;
use crate::stack::{self, Workspace, MAX_FRAMES};
use crate::verdict::{FindingSeverity, Location};
use std::collections::HashMap;
use std::sync::Arc;

/// The frames kept for findings, and the findings waiting for theirs.
#[derive(Debug, Clone, Default)]
pub(super) struct Stacks {
    /// Each finding's frames (innermost first), by the finding's index.
    frames: HashMap<usize, Vec<Frame>>,
    /// The task whose event made findings just now, and those findings: the frames that
    /// come next, from that task, are the stack of that event's call.
    awaiting: Option<(u32, Vec<usize>)>,
    /// Whose source a location names; None: findings get no location.
    workspace: Option<Arc<Workspace>>,
}

impl Judge {
    /// Sets the source tree whose code the findings' locations point at.
    pub fn set_workspace(&mut self, workspace: Workspace) {
        self.stacks.workspace = Some(Arc::new(workspace));
    }

    /// A new finding was made by `pid`'s event: the frames that follow are its stack.
    pub(super) fn await_stack(&mut self, pid: u32, finding: usize) {
        match &mut self.stacks.awaiting {
            Some((task, findings)) if *task == pid => findings.push(finding),
            awaiting => *awaiting = Some((pid, vec![finding])),
        }
    }

    /// Every event but a frame ends the stack of the event before it.
    pub(super) fn stack_event(&mut self, pid: u32, frame: Option<&Frame>) {
        let Some(frame) = frame else {
            self.stacks.awaiting = None;
            return;
        };
        let Some((task, findings)) = &self.stacks.awaiting else {
            return;
        };
        if *task != pid {
            return;
        }
        for &finding in findings {
            let frames = self.stacks.frames.entry(finding).or_default();
            if frames.len() < MAX_FRAMES {
                frames.push(frame.clone());
            }
        }
    }

    /// Whether the event just observed (with the answers to its questions) made a
    /// finding that wants the stack of its call: the native tracer then unwinds the
    /// thread, which still waits, and hands the frames on as events.
    ///
    /// An attempt that the allow list or the tree's own servers exempt wants none: every
    /// policy a run is judged under unions the allow lists, so it stays exempt (a kind's
    /// severity and `ip = false` may change with a test's override, so those count).
    pub fn wants_stack(&self) -> bool {
        let Some((_, findings)) = &self.stacks.awaiting else {
            return false;
        };
        findings.iter().any(|&index| {
            let exempt = match &self.targets[index] {
                Target::Ip(ip, transport) => {
                    self.owned(*transport, ip) || self.policy.allows_ip(ip)
                }
                Target::Unix(path) => self.policy.allows_unix(path, false),
                Target::None => false,
            };
            !exempt && !self.stacks.frames.contains_key(&index)
        })
    }

    /// Where finding `index`'s attempt was made: the first frame of its stack in the
    /// workspace's own code.
    pub(super) fn location(&self, index: usize) -> Option<Location> {
        let frames = self.stacks.frames.get(&index)?;
        stack::locate(frames, self.stacks.workspace.as_deref()?)
    }

    /// Fills the location of the findings `kept`.
    pub(super) fn locate_kept(&mut self, kept: &[(usize, FindingSeverity)]) {
        for &(index, _) in kept {
            let location = self.location(index);
            self.findings[index].location = location;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyConfig;
    use crate::stack::maps;
    use crate::syntax::Parser;
    use std::path::Path;

    const MARKER_LINE: u32 = line!() + 2;
    #[inline(never)]
    fn marker() -> u32 {
        std::hint::black_box(7)
    }

    /// A stack line naming `marker`'s first instruction in this test binary (as a
    /// return address just after it, which is how frames are looked up).
    fn marker_frame() -> String {
        let address = marker as *const () as u64;
        let maps = maps::read(std::process::id()).unwrap();
        let mapping = maps::find(&maps, address).expect("mapped");
        let frame = Frame {
            module: mapping.path.clone().unwrap(),
            offset: mapping.file_offset(address) + 1,
        };
        let mut line = String::new();
        crate::syntax::render::line(&mut line, 0, &crate::syntax::Line::Frame(&frame));
        line
    }

    const LEAK: &str = r#"5 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.2")}, 16) = -1 ENETUNREACH (Network is unreachable)"#;

    fn judge(allow: &[&str]) -> Judge {
        let config = PolicyConfig::from_allow_list(allow, "test").unwrap();
        let mut judge = Judge::new(config.resolve(""));
        judge.set_workspace(Workspace::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap(),
        ));
        judge
    }

    /// Feeds `lines` to `judge` after an execve, through a parser of its own.
    fn feed(judge: &mut Judge, lines: &[&str]) {
        let start = r#"5 execve("/x", ["/x"], 0x7f /* 1 var */) = 0"#;
        let mut parser = Parser::new();
        feed_more(&mut parser, judge, &[start]);
        feed_more(&mut parser, judge, lines);
    }

    fn feed_more(parser: &mut Parser, judge: &mut Judge, lines: &[&str]) {
        for line in lines {
            parser
                .feed(line, &mut |event, shown| judge.observe(&event, shown))
                .unwrap();
        }
    }

    fn locations(judge: Judge) -> Vec<Option<Location>> {
        let verdict = judge.finish();
        verdict.findings.into_iter().map(|f| f.location).collect()
    }

    fn marker_location() -> Option<Location> {
        Some(Location {
            function: "leakcheck::judge::stacks::tests::marker".to_string(),
            file: "leakcheck/src/judge/stacks.rs".to_string(),
            line: MARKER_LINE,
        })
    }

    #[test]
    fn the_frames_after_a_finding_are_its_location() {
        assert_eq!(marker(), 7);
        let mut j = judge(&[]);
        let frame = marker_frame();
        feed(
            &mut j,
            &[LEAK, " > /lib/libc.so.6(__connect+0x10) [0x10]", &frame],
        );
        assert_eq!(locations(j), vec![marker_location()]);
    }

    #[test]
    fn a_finding_keeps_the_stack_of_its_first_occurrence() {
        let mut j = judge(&[]);
        let frame = marker_frame();
        feed(&mut j, &[LEAK, LEAK, &frame]);
        assert_eq!(locations(j), vec![None]);
    }

    #[test]
    fn frames_of_another_task_or_after_another_event_are_not_the_findings() {
        let frame = marker_frame();
        let mut j = judge(&[]);
        feed(
            &mut j,
            &[LEAK, r#"6 sendto(4, "q", 1, 0, NULL, 0) = 1"#, &frame],
        );
        assert_eq!(locations(j), vec![None]);
        let mut j = judge(&[]);
        feed(&mut j, &[LEAK, "5 +++ exited with 0 +++", &frame]);
        assert_eq!(locations(j), vec![None]);
    }

    #[test]
    fn without_a_workspace_there_is_no_location() {
        let config = PolicyConfig::from_allow_list(&[] as &[&str], "test").unwrap();
        let mut j = Judge::new(config.resolve(""));
        feed(&mut j, &[LEAK, &marker_frame()]);
        assert_eq!(locations(j), vec![None]);
    }

    #[test]
    fn only_a_new_finding_that_no_allow_entry_exempts_wants_a_stack() {
        let mut j = judge(&["10.0.0.3:53"]);
        let mut parser = Parser::new();
        assert!(!j.wants_stack());
        feed_more(&mut parser, &mut j, &[LEAK]);
        assert!(j.wants_stack(), "a new finding");
        feed_more(&mut parser, &mut j, &[LEAK]);
        assert!(!j.wants_stack(), "the same finding again");
        let allowed = LEAK.replace("10.0.0.2", "10.0.0.3");
        feed_more(&mut parser, &mut j, &[&allowed]);
        assert!(!j.wants_stack(), "an allowed destination");
        let other = LEAK.replace("10.0.0.2", "10.0.0.4");
        feed_more(&mut parser, &mut j, &[&other]);
        assert!(j.wants_stack(), "another new finding");
        feed_more(&mut parser, &mut j, &[&marker_frame()]);
        assert!(!j.wants_stack(), "its frames came");
    }
}
