//! leakcheck's seccomp filter: which system calls stop the program, and how it is
//! installed in the child.

use super::arch;
use super::bpf::{Action, Field, Program, To};
use std::io;

/// The calls the filter stops on (ioctl is filtered by request, see [`seccomp_filter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syscall {
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

pub(super) const SYSCALLS: [(libc::c_long, Syscall); 17] = [
    (libc::SYS_socket, Syscall::Socket),
    (libc::SYS_connect, Syscall::Connect),
    (libc::SYS_bind, Syscall::Bind),
    (libc::SYS_listen, Syscall::Listen),
    (libc::SYS_getsockname, Syscall::GetSockName),
    (libc::SYS_sendto, Syscall::SendTo),
    (libc::SYS_sendmsg, Syscall::SendMsg),
    (libc::SYS_sendmmsg, Syscall::SendMmsg),
    (libc::SYS_ioctl, Syscall::Ioctl),
    (libc::SYS_io_uring_setup, Syscall::IoUringSetup),
    (libc::SYS_io_uring_enter, Syscall::IoUringEnter),
    (libc::SYS_io_uring_register, Syscall::IoUringRegister),
    (libc::SYS_prctl, Syscall::Prctl),
    (libc::SYS_clone, Syscall::Clone),
    (libc::SYS_ptrace, Syscall::Ptrace),
    (libc::SYS_seccomp, Syscall::Seccomp),
    (libc::SYS_clone3, Syscall::Clone3),
];

pub(super) fn syscall_of(nr: u64) -> Option<Syscall> {
    SYSCALLS
        .iter()
        .find(|(n, _)| *n as u64 == nr)
        .map(|(_, call)| *call)
}

/// The seccomp program: stop (`SECCOMP_RET_TRACE`) on the traced calls, on ioctl only
/// for SIOCGIFCONF and SIOCGIFADDR (strace stopped on every ioctl to look at two), and on
/// every call of another ABI, which the tracer reports as undecodable. With `notify`, the
/// send calls go to the seccomp listener instead (`SECCOMP_RET_USER_NOTIF`).
pub(super) fn seccomp_filter(notify: bool) -> Vec<libc::sock_filter> {
    /// Where the argument checks are; `Trace`, `Notify`, `Enosys` and `Allow` are the
    /// returns. BPF jumps only forward, so the argument checks' "no" (`Allow`) comes last.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum L {
        Ioctl,
        Prctl,
        Clone,
        Ptrace,
        Seccomp,
        Trace,
        Notify,
        Enosys,
        Allow,
    }
    use To::{Label, Next};
    let mut p = Program::new();
    p.load(Field::Arch);
    p.jump_eq(arch::AUDIT_ARCH, Next, Label(L::Trace));
    p.load(Field::Nr);
    if let Some(bit) = arch::X32_BIT {
        p.jump_ge(bit, Label(L::Trace), Next);
    }
    for (nr, call) in SYSCALLS {
        let target = match call {
            Syscall::Ioctl => L::Ioctl,
            Syscall::Prctl => L::Prctl,
            Syscall::Clone => L::Clone,
            Syscall::Ptrace => L::Ptrace,
            Syscall::Seccomp => L::Seccomp,
            Syscall::Clone3 => L::Enosys,
            Syscall::SendTo | Syscall::SendMsg | Syscall::SendMmsg if notify => L::Notify,
            _ => L::Trace,
        };
        p.jump_eq(nr as u32, Label(target), Next);
    }
    p.ret(Action::Allow);
    // The kernel reads ioctl's request, prctl's option and ptrace's request as 32 bits.
    p.label(L::Ioctl);
    p.load(Field::ArgLow(1));
    p.jump_eq(libc::SIOCGIFCONF as u32, Label(L::Trace), Next);
    p.jump_eq(libc::SIOCGIFADDR as u32, Label(L::Trace), Label(L::Allow));
    p.label(L::Prctl);
    p.load(Field::ArgLow(0));
    p.jump_eq(libc::PR_SET_NAME as u32, Label(L::Trace), Label(L::Allow));
    p.label(L::Clone);
    p.load(Field::ArgLow(0));
    p.jump_set(
        libc::CLONE_UNTRACED as u32,
        Label(L::Trace),
        Label(L::Allow),
    );
    p.label(L::Ptrace);
    p.load(Field::ArgLow(0));
    p.jump_eq(libc::PTRACE_ATTACH, Label(L::Trace), Next);
    p.jump_eq(libc::PTRACE_SEIZE, Label(L::Trace), Label(L::Allow));
    p.label(L::Seccomp);
    p.load(Field::ArgLow(0));
    p.jump_eq(libc::SECCOMP_SET_MODE_FILTER, Next, Label(L::Allow));
    p.load(Field::ArgLow(1));
    p.jump_set(
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32,
        Label(L::Trace),
        Label(L::Allow),
    );
    p.label(L::Trace);
    p.ret(Action::Trace);
    p.label(L::Notify);
    p.ret(Action::Notify);
    p.label(L::Enosys);
    p.ret(Action::Errno(libc::ENOSYS));
    p.label(L::Allow);
    p.ret(Action::Allow);
    p.assemble()
}

/// Installs the filter in the child, between fork and exec: only system calls. Returns
/// the listener descriptor when `listener` asks for one, else -1.
pub(super) fn install_filter(prog: &[libc::sock_filter], listener: bool) -> io::Result<i32> {
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
                libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
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

#[cfg(test)]
mod tests {
    use super::seccomp_filter;

    #[test]
    fn filter_jumps_land_inside_the_program() {
        let prog = seccomp_filter(true);
        let jumps = prog
            .iter()
            .enumerate()
            .filter(|(_, ins)| u32::from(ins.code) & 0x07 == libc::BPF_JMP);
        for (i, ins) in jumps {
            assert!(i + 1 + (ins.jt as usize) < prog.len());
            assert!(i + 1 + (ins.jf as usize) < prog.len());
        }
    }
}
