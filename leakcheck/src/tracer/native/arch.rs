//! What differs between the architectures the native tracer runs on: the audit
//! architecture its seccomp filter expects, and the system call numbers of another ABI
//! it must refuse to decode.

#[cfg(target_arch = "x86_64")]
mod imp {
    pub const SUPPORTED: bool = true;
    /// AUDIT_ARCH_X86_64
    pub const AUDIT_ARCH: u32 = 0xC000_003E;
    /// System calls with this bit set use the x32 ABI, which this backend does not decode.
    pub const X32_BIT: Option<u32> = Some(0x4000_0000);
}

#[cfg(target_arch = "aarch64")]
mod imp {
    pub const SUPPORTED: bool = true;
    /// AUDIT_ARCH_AARCH64
    pub const AUDIT_ARCH: u32 = 0xC000_00B7;
    pub const X32_BIT: Option<u32> = None;
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    pub const SUPPORTED: bool = false;
    pub const AUDIT_ARCH: u32 = 0;
    pub const X32_BIT: Option<u32> = None;
}

pub(super) use imp::{AUDIT_ARCH, X32_BIT};

/// Whether the native tracer runs here: on Linux x86_64 and aarch64, with glibc (libc
/// defines `ptrace_syscall_info` for glibc targets only).
pub(super) const SUPPORTED: bool = imp::SUPPORTED && cfg!(target_env = "gnu");
