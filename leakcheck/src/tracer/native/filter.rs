//! leakcheck's seccomp filter: which system calls stop the program, and how it is
//! installed in the child.

use super::arch;
use std::io;

/// The calls the filter stops on (ioctl is filtered by request, see [`seccomp_filter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Socket,
    Connect,
    Bind,
    Listen,
    GetSockName,
    SendTo,
    SendMsg,
    SendMmsg,
    Ioctl,
    IoUringSetup,
    IoUringEnter,
    IoUringRegister,
    /// Only `PR_SET_NAME`: a thread naming itself (libtest names test threads).
    Prctl,
    /// Only with CLONE_UNTRACED.
    Clone,
    /// Only PTRACE_ATTACH and PTRACE_SEIZE.
    Ptrace,
    /// Only filters with a listener of their own.
    Seccomp,
    /// Refused with ENOSYS: its flags are in memory, where the filter cannot test them
    /// for CLONE_UNTRACED; libc falls back to clone.
    Clone3,
}

pub(super) const CALLS: [(libc::c_long, Call); 17] = [
    (libc::SYS_socket, Call::Socket),
    (libc::SYS_connect, Call::Connect),
    (libc::SYS_bind, Call::Bind),
    (libc::SYS_listen, Call::Listen),
    (libc::SYS_getsockname, Call::GetSockName),
    (libc::SYS_sendto, Call::SendTo),
    (libc::SYS_sendmsg, Call::SendMsg),
    (libc::SYS_sendmmsg, Call::SendMmsg),
    (libc::SYS_ioctl, Call::Ioctl),
    (libc::SYS_io_uring_setup, Call::IoUringSetup),
    (libc::SYS_io_uring_enter, Call::IoUringEnter),
    (libc::SYS_io_uring_register, Call::IoUringRegister),
    (libc::SYS_prctl, Call::Prctl),
    (libc::SYS_clone, Call::Clone),
    (libc::SYS_ptrace, Call::Ptrace),
    (libc::SYS_seccomp, Call::Seccomp),
    (libc::SYS_clone3, Call::Clone3),
];

pub(super) fn call_of(nr: u64) -> Option<Call> {
    CALLS
        .iter()
        .find(|(n, _)| *n as u64 == nr)
        .map(|(_, call)| *call)
}

pub(super) const SIOCGIFCONF: u32 = 0x8912;
pub(super) const SIOCGIFADDR: u32 = 0x8915;

/// The seccomp program: stop (`SECCOMP_RET_TRACE`) on the traced calls, on ioctl only
/// for SIOCGIFCONF and SIOCGIFADDR (strace stopped on every ioctl to look at two), and on
/// every call of another ABI, which the tracer reports as undecodable. With `notify`, the
/// send calls go to the seccomp listener instead (`SECCOMP_RET_USER_NOTIF`).
pub(super) fn seccomp_filter(notify: bool) -> Vec<libc::sock_filter> {
    const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_TRACE: u32 = 0x7ff0_0000;
    const RET_NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;
    // struct seccomp_data: nr at 0, arch at 4, args at 16; the low half of args[1] is at
    // 24 on little-endian machines (the kernel reads ioctl's request as 32 bits).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const ARG0_LOW: u32 = 16;
    const ARG1_LOW: u32 = 24;
    const CLONE_UNTRACED: u32 = libc::CLONE_UNTRACED as u32;
    const PR_SET_NAME: u32 = libc::PR_SET_NAME as u32;
    const PTRACE_ATTACH: u32 = libc::PTRACE_ATTACH;
    const PTRACE_SEIZE: u32 = 0x4206;
    const SECCOMP_SET_MODE_FILTER: u32 = 1;
    const NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;

    // Jumps are relative, so the program is laid out first with symbolic targets.
    #[derive(Clone, Copy)]
    enum To {
        Next,
        Trace,
        Ioctl,
        Notify,
        Prctl,
        Clone,
        Ptrace,
        Seccomp,
        Enosys,
        Allow,
    }
    let mut prog: Vec<(u16, u32, To, To)> = vec![(LD_ABS, ARCH, To::Next, To::Next)];
    prog.push((JEQ, arch::AUDIT_ARCH, To::Next, To::Trace));
    prog.push((LD_ABS, NR, To::Next, To::Next));
    if let Some(bit) = arch::X32_BIT {
        prog.push((JGE, bit, To::Trace, To::Next));
    }
    for (nr, call) in CALLS {
        let target = match call {
            Call::Ioctl => To::Ioctl,
            Call::Prctl => To::Prctl,
            Call::Clone => To::Clone,
            Call::Ptrace => To::Ptrace,
            Call::Seccomp => To::Seccomp,
            Call::Clone3 => To::Enosys,
            Call::SendTo | Call::SendMsg | Call::SendMmsg if notify => To::Notify,
            _ => To::Trace,
        };
        prog.push((JEQ, nr as u32, target, To::Next));
    }
    prog.push((RET, RET_ALLOW, To::Next, To::Next));
    let ioctl_at = prog.len();
    prog.push((LD_ABS, ARG1_LOW, To::Next, To::Next));
    prog.push((JEQ, SIOCGIFCONF, To::Trace, To::Next));
    prog.push((JEQ, SIOCGIFADDR, To::Trace, To::Allow));
    let prctl_at = prog.len();
    prog.push((LD_ABS, ARG0_LOW, To::Next, To::Next));
    prog.push((JEQ, PR_SET_NAME, To::Trace, To::Allow));
    let clone_at = prog.len();
    prog.push((LD_ABS, ARG0_LOW, To::Next, To::Next));
    prog.push((JSET, CLONE_UNTRACED, To::Trace, To::Allow));
    let ptrace_at = prog.len();
    prog.push((LD_ABS, ARG0_LOW, To::Next, To::Next));
    prog.push((JEQ, PTRACE_ATTACH, To::Trace, To::Next));
    prog.push((JEQ, PTRACE_SEIZE, To::Trace, To::Allow));
    let seccomp_at = prog.len();
    prog.push((LD_ABS, ARG0_LOW, To::Next, To::Next));
    prog.push((JEQ, SECCOMP_SET_MODE_FILTER, To::Next, To::Allow));
    prog.push((LD_ABS, ARG1_LOW, To::Next, To::Next));
    prog.push((JSET, NEW_LISTENER, To::Trace, To::Allow));
    let trace_at = prog.len();
    prog.push((RET, RET_TRACE, To::Next, To::Next));
    let notify_at = prog.len();
    prog.push((RET, RET_NOTIFY, To::Next, To::Next));
    let enosys_at = prog.len();
    prog.push((RET, RET_ENOSYS, To::Next, To::Next));
    // The argument checks' "no": BPF jumps only forward, so it comes last.
    let allow_at = prog.len();
    prog.push((RET, RET_ALLOW, To::Next, To::Next));

    let offset = |from: usize, to: To| -> u8 {
        let target = match to {
            To::Next => from + 1,
            To::Trace => trace_at,
            To::Ioctl => ioctl_at,
            To::Notify => notify_at,
            To::Prctl => prctl_at,
            To::Clone => clone_at,
            To::Ptrace => ptrace_at,
            To::Seccomp => seccomp_at,
            To::Enosys => enosys_at,
            To::Allow => allow_at,
        };
        assert!(target > from, "seccomp jumps go forward");
        u8::try_from(target - from - 1).expect("seccomp program fits relative jumps")
    };
    prog.iter()
        .enumerate()
        .map(|(i, &(code, k, jt, jf))| libc::sock_filter {
            code,
            jt: offset(i, jt),
            jf: offset(i, jf),
            k,
        })
        .collect()
}

/// Installs the filter in the child, between fork and exec: only system calls. Returns
/// the listener descriptor when `listener` asks for one, else -1.
pub(super) fn install_filter(prog: &[libc::sock_filter], listener: bool) -> io::Result<i32> {
    const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    let flags = if listener {
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    let install = || {
        // SAFETY: seccomp(2) reads the program, which outlives the call.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                flags,
                &fprog as *const libc::sock_fprog,
            )
        }
    };
    let mut r = install();
    if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EACCES) {
        // Without CAP_SYS_ADMIN a filter needs no_new_privs (as under strace --seccomp-bpf).
        // SAFETY: plain prctl.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        r = install();
    }
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(if listener { r as i32 } else { -1 })
}
