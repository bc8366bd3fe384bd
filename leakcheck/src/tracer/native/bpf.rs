//! A small assembler for classic-BPF seccomp programs: loads of `seccomp_data` fields,
//! conditional jumps to labels, and returns of typed actions.
//!
//! BPF jumps are relative offsets of at most 255 instructions and go forward only; the
//! assembler lays the program out from symbolic labels and checks both rules, so that the
//! filter in `filter.rs` reads as what it does. (seccompiler builds filters from rules with
//! one action per rule and one default; it cannot express this program, which sends some
//! calls to a user-notification listener, stops on others for ptrace, and refuses one
//! with ENOSYS.)

use std::collections::HashMap;
use std::hash::Hash;
use std::mem::offset_of;

/// What the filter decides for a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Let it run.
    Allow,
    /// Stop the task for its ptrace tracer (`PTRACE_EVENT_SECCOMP`).
    Trace,
    /// Hand it to the user-notification listener, the caller waiting.
    Notify,
    /// Fail it with this errno.
    Errno(i32),
}

impl Action {
    fn value(self) -> u32 {
        match self {
            Action::Allow => libc::SECCOMP_RET_ALLOW,
            Action::Trace => libc::SECCOMP_RET_TRACE,
            Action::Notify => libc::SECCOMP_RET_USER_NOTIF,
            Action::Errno(errno) => {
                libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
            }
        }
    }
}

/// A 32-bit word of `struct seccomp_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// The system call number.
    Nr,
    /// Its audit architecture.
    Arch,
    /// The low 32 bits of argument `i` (what the kernel reads of an `int` argument).
    ArgLow(usize),
}

impl Field {
    fn offset(self) -> u32 {
        let at = match self {
            Field::Nr => offset_of!(libc::seccomp_data, nr),
            Field::Arch => offset_of!(libc::seccomp_data, arch),
            Field::ArgLow(i) => {
                let low = if cfg!(target_endian = "big") { 4 } else { 0 };
                offset_of!(libc::seccomp_data, args) + 8 * i + low
            }
        };
        at as u32
    }
}

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum To<L> {
    /// The next instruction.
    Next,
    /// The instruction at a label.
    Label(L),
}

#[derive(Debug, Clone, Copy)]
struct Insn<L> {
    code: u16,
    k: u32,
    jt: To<L>,
    jf: To<L>,
}

/// A program being written, with labels of type `L`.
#[derive(Debug)]
pub(super) struct Program<L> {
    insns: Vec<Insn<L>>,
    labels: HashMap<L, usize>,
}

const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

impl<L: Copy + Eq + Hash + std::fmt::Debug> Program<L> {
    /// An empty program.
    pub(super) fn new() -> Program<L> {
        Program {
            insns: Vec::new(),
            labels: HashMap::new(),
        }
    }

    /// Puts `label` on the next instruction.
    pub(super) fn label(&mut self, label: L) {
        let previous = self.labels.insert(label, self.insns.len());
        assert!(previous.is_none(), "seccomp label {label:?} placed twice");
    }

    fn push(&mut self, code: u16, k: u32, jt: To<L>, jf: To<L>) {
        self.insns.push(Insn { code, k, jt, jf });
    }

    /// Loads `field` into the accumulator.
    pub(super) fn load(&mut self, field: Field) {
        self.push(LD_ABS, field.offset(), To::Next, To::Next);
    }

    /// Goes to `yes` if the accumulator equals `k`, else to `no`.
    pub(super) fn jump_eq(&mut self, k: u32, yes: To<L>, no: To<L>) {
        self.push(JEQ, k, yes, no);
    }

    /// Goes to `yes` if the accumulator is at least `k`, else to `no`.
    pub(super) fn jump_ge(&mut self, k: u32, yes: To<L>, no: To<L>) {
        self.push(JGE, k, yes, no);
    }

    /// Goes to `yes` if the accumulator has any bit of `k`, else to `no`.
    pub(super) fn jump_set(&mut self, k: u32, yes: To<L>, no: To<L>) {
        self.push(JSET, k, yes, no);
    }

    /// Ends the program with `action`.
    pub(super) fn ret(&mut self, action: Action) {
        self.push(RET, action.value(), To::Next, To::Next);
    }

    /// The instructions, with every jump resolved. Panics on a label never placed, a
    /// backward jump or one too far: mistakes in the program's text, which its tests
    /// run into.
    pub(super) fn assemble(&self) -> Vec<libc::sock_filter> {
        let offset = |from: usize, to: To<L>| -> u8 {
            let target = match to {
                To::Next => from + 1,
                To::Label(label) => *self
                    .labels
                    .get(&label)
                    .unwrap_or_else(|| panic!("seccomp label {label:?} never placed")),
            };
            assert!(target > from, "seccomp jumps go forward");
            u8::try_from(target - from - 1).expect("seccomp program fits relative jumps")
        };
        self.insns
            .iter()
            .enumerate()
            .map(|(i, insn)| libc::sock_filter {
                code: insn.code,
                jt: offset(i, insn.jt),
                jf: offset(i, insn.jf),
                k: insn.k,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_are_relative_to_the_next_instruction() {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        enum L {
            Yes,
        }
        let mut p = Program::new();
        p.load(Field::Nr);
        p.jump_eq(7, To::Label(L::Yes), To::Next);
        p.ret(Action::Allow);
        p.label(L::Yes);
        p.ret(Action::Errno(libc::ENOSYS));
        let prog = p.assemble();
        assert_eq!(prog.len(), 4);
        assert_eq!((prog[1].jt, prog[1].jf), (1, 0));
        assert_eq!(prog[0].k, 0);
        assert_eq!(prog[3].k, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
        assert_eq!(
            Field::ArgLow(1).offset(),
            if cfg!(target_endian = "big") { 28 } else { 24 }
        );
    }

    #[test]
    #[should_panic(expected = "forward")]
    fn backward_jumps_are_refused() {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        enum L {
            Back,
        }
        let mut p = Program::new();
        p.label(L::Back);
        p.load(Field::Nr);
        p.jump_eq(1, To::Label(L::Back), To::Next);
        p.assemble();
    }
}
