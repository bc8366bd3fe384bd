//! The registers an unwind starts from. At a ptrace stop the tracer reads them all
//! (`PTRACE_GETREGSET`); a thread waiting in a seccomp notification is not ptrace-stopped,
//! and `/proc/TID/syscall` gives its stack pointer and program counter only.

/// What the unwinder needs of a stopped thread's registers. A register that could not be
/// read is 0: the unwind then stops where the CFI first needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    /// Program counter (just after the system call instruction).
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Frame pointer (rbp, x29).
    pub fp: u64,
    /// Link register (x30 on aarch64; unused on x86_64).
    pub lr: u64,
}

impl Regs {
    /// The registers `/proc/TID/syscall` shows for a thread blocked in a system call:
    /// `NR ARG1 .. ARG6 SP PC` (or `-1 SP PC` outside one); None while it runs.
    pub fn from_proc_syscall(text: &str) -> Option<Regs> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() < 3 || fields[0] == "running" {
            return None;
        }
        let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
        Some(Regs {
            sp: hex(fields[fields.len() - 2])?,
            pc: hex(fields[fields.len() - 1])?,
            ..Regs::default()
        })
    }

    /// [`Regs::from_proc_syscall`] of thread `tid`.
    pub fn of_blocked(tid: u32) -> Option<Regs> {
        Regs::from_proc_syscall(&std::fs::read_to_string(format!("/proc/{tid}/syscall")).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_call_gives_its_stack_and_program_counters() {
        let text = "44 0x3 0x7ffc1a2b 0x1 0x4000 0x7ffc1a40 0x10 0x7ffd8a1c2f18 0x7f3a5c91acb3\n";
        assert_eq!(
            Regs::from_proc_syscall(text),
            Some(Regs {
                sp: 0x7ffd8a1c2f18,
                pc: 0x7f3a5c91acb3,
                ..Regs::default()
            })
        );
        assert_eq!(
            Regs::from_proc_syscall("-1 0x7ffd8a1c2f18 0x55d6c3a17234").map(|r| r.pc),
            Some(0x55d6c3a17234)
        );
    }

    #[test]
    fn a_running_thread_or_garbage_gives_nothing() {
        assert_eq!(Regs::from_proc_syscall("running\n"), None);
        assert_eq!(Regs::from_proc_syscall(""), None);
        assert_eq!(Regs::from_proc_syscall("44 0x3 zz 0x12"), None);
    }
}
