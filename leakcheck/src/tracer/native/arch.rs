//! What differs between the architectures the native tracer runs on: the audit
//! architecture its seccomp filter expects, the system call numbers of another ABI it
//! must refuse to decode, and the registers an unwind starts from.

#[cfg(target_arch = "x86_64")]
mod imp {
    use crate::stack::Regs;

    pub const SUPPORTED: bool = true;
    /// AUDIT_ARCH_X86_64
    pub const AUDIT_ARCH: u32 = 0xC000_003E;
    /// System calls with this bit set use the x32 ABI, which this backend does not decode.
    pub const X32_BIT: Option<u32> = Some(0x4000_0000);

    /// The general registers as `PTRACE_GETREGSET` (`NT_PRSTATUS`) writes them.
    pub type UserRegs = libc::user_regs_struct;

    /// What an unwind starts from.
    pub fn unwind_regs(r: &UserRegs) -> Regs {
        Regs {
            pc: r.rip,
            sp: r.rsp,
            fp: r.rbp,
            lr: 0,
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    use crate::stack::Regs;

    pub const SUPPORTED: bool = true;
    /// AUDIT_ARCH_AARCH64
    pub const AUDIT_ARCH: u32 = 0xC000_00B7;
    pub const X32_BIT: Option<u32> = None;

    /// The general registers as `PTRACE_GETREGSET` (`NT_PRSTATUS`) writes them.
    pub type UserRegs = libc::user_regs_struct;

    /// What an unwind starts from: x29 is the frame pointer, x30 the link register.
    pub fn unwind_regs(r: &UserRegs) -> Regs {
        Regs {
            pc: r.pc,
            sp: r.sp,
            fp: r.regs[29],
            lr: r.regs[30],
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    use crate::stack::Regs;

    pub const SUPPORTED: bool = false;
    pub const AUDIT_ARCH: u32 = 0;
    pub const X32_BIT: Option<u32> = None;

    /// Room for any architecture's registers (never read: the tracer does not run here).
    pub type UserRegs = [u64; 64];

    pub fn unwind_regs(_: &UserRegs) -> Regs {
        Regs::default()
    }
}

pub(super) use imp::{unwind_regs, UserRegs, AUDIT_ARCH, X32_BIT};

/// Whether the native tracer runs here: on Linux x86_64 and aarch64, with glibc (libc
/// defines `ptrace_syscall_info` for glibc targets only).
pub(super) const SUPPORTED: bool = imp::SUPPORTED && cfg!(target_env = "gnu");
