//! What this machine offers the self-test: network namespaces, the tracers (the native
//! one with and without seccomp user notification, strace), which one `cargo leakcheck`
//! uses by default, and for everything missing what it costs and how to get it.

use crate::reporter::self_test::{Lack, TracerLine};
use leakcheck::isolate::NetworkIsolation;
use leakcheck::native::NativeBackend;
use leakcheck::tracer::{Backend, StraceBackend};
use std::io;
use std::path::Path;

/// The variable that turns the native tracer's seccomp user notification off.
pub const NOTIFY_ENV: &str = "LEAKCHECK_NATIVE_NOTIFY";

/// One way of tracing that the self-test runs its controls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The native tracer, sends by seccomp user notification.
    Native,
    /// The native tracer with `LEAKCHECK_NATIVE_NOTIFY=0`: sends by ptrace stops.
    NativePtrace,
    /// strace.
    Strace,
}

impl Variant {
    /// Every variant, in the table's order.
    pub const ALL: [Variant; 3] = [Variant::Native, Variant::NativePtrace, Variant::Strace];

    /// The label in the table, and the worker's argument.
    pub fn label(self) -> &'static str {
        match self {
            Variant::Native => "native",
            Variant::NativePtrace => "native-ptrace",
            Variant::Strace => "strace",
        }
    }

    /// The variant a label names.
    pub fn from_label(label: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.label() == label)
    }

    /// What it is, for the table's legend.
    fn about(self) -> &'static str {
        match self {
            Variant::Native => {
                "leakcheck's ptrace and seccomp tracer, sends by seccomp user notification"
            }
            Variant::NativePtrace => {
                "the same with LEAKCHECK_NATIVE_NOTIFY=0: sends by ptrace stops"
            }
            Variant::Strace => "strace -f --seccomp-bpf (--tracer strace)",
        }
    }

    /// The backend name for [`Backend::select`].
    pub fn backend(self) -> &'static str {
        match self {
            Variant::Native | Variant::NativePtrace => "native",
            Variant::Strace => "strace",
        }
    }

    /// The value of [`NOTIFY_ENV`] its worker runs with.
    pub fn notify_env(self) -> &'static str {
        match self {
            Variant::NativePtrace => "0",
            Variant::Native | Variant::Strace => "1",
        }
    }
}

/// What the machine offers.
#[derive(Debug)]
pub struct Machine {
    /// Why no fresh network namespace can be made here (None: it can).
    pub no_namespace: Option<String>,
    /// Every variant and why it cannot run here (None: it can).
    pub variants: Vec<(Variant, Option<String>)>,
    /// The variant `cargo leakcheck` uses by default here.
    pub default: Option<Variant>,
    /// What is missing, with the fixes.
    pub lacks: Vec<Lack>,
}

impl Machine {
    /// Looks at this machine.
    pub fn probe() -> Machine {
        let mut lacks = Vec::new();
        let no_namespace = match try_namespace() {
            Ok(()) => None,
            Err(e) => {
                let root = nix::unistd::geteuid().is_root();
                lacks.push(namespace_lack(&e, Path::new("/proc/sys"), root));
                Some(format!("cannot create a network namespace: {e}"))
            }
        };

        let native = NativeBackend::new().is_some();
        let notify = native && notify_supported();
        if !native {
            lacks.push(Lack {
                what: "the native tracer, which runs on Linux x86_64 and aarch64 only".into(),
                fix: "trace with strace (--tracer strace, or LEAKCHECK_TRACER=strace)".into(),
            });
        } else if !notify {
            lacks.push(Lack {
                what: "seccomp user notification for the native tracer (pidfd_getfd, Linux 5.6): every send is a ptrace stop instead, slower with the same verdicts".into(),
                fix: "a Linux 5.6 or newer kernel (6.6 or newer for the fastest path)".into(),
            });
        }
        let strace = StraceBackend::locate();
        if let Err(e) = &strace {
            lacks.push(Lack {
                what: format!("strace, the second tracer ({})", first_line(&e.to_string())),
                fix: "sudo apt-get install strace (Debian, Ubuntu); sudo dnf install strace (Fedora); apk add strace (Alpine); or LEAKCHECK_STRACE=/path/to/strace".into(),
            });
        }
        let variants = Variant::ALL
            .into_iter()
            .map(|variant| {
                let why = match variant {
                    Variant::Native if !native => Some("the native tracer does not run on this architecture".to_string()),
                    Variant::Native if !notify => Some("no seccomp user notification here (pidfd_getfd needs Linux 5.6): the native tracer stops every send with ptrace, as in the native-ptrace rows".to_string()),
                    Variant::NativePtrace if !native => Some("the native tracer does not run on this architecture".to_string()),
                    Variant::Strace => strace.as_ref().err().map(|e| first_line(&e.to_string()).to_string()),
                    _ => None,
                };
                (variant, why)
            })
            .collect();

        let default = match Backend::select(None) {
            Ok(Backend::Native(_)) => {
                let off = std::env::var_os(NOTIFY_ENV).is_some_and(|v| v == "0");
                Some(if notify && !off {
                    Variant::Native
                } else {
                    Variant::NativePtrace
                })
            }
            Ok(Backend::Strace(_)) => Some(Variant::Strace),
            Err(e) => {
                lacks.push(Lack {
                    what: format!(
                        "a tracer for `cargo leakcheck` ({})",
                        first_line(&e.to_string())
                    ),
                    fix: e.to_string().lines().skip(1).collect::<Vec<_>>().join(" "),
                });
                None
            }
        };
        Machine {
            no_namespace,
            variants,
            default,
            lacks,
        }
    }

    /// The legend of the table.
    pub fn tracer_lines(&self) -> Vec<TracerLine> {
        self.variants
            .iter()
            .map(|(variant, _)| TracerLine {
                label: variant.label().to_string(),
                about: variant.about().to_string(),
            })
            .collect()
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Whether seccomp user notification can carry the native tracer's sends: the native
/// backend's own test (it needs `pidfd_getfd`, Linux 5.6), which the library keeps
/// private.
fn notify_supported() -> bool {
    // SAFETY: a probe with an invalid descriptor: EBADF if the call exists.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, 0, 0) };
    r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
}

/// Makes a fresh network namespace in a forked child, as `--isolate-network` does, and
/// says whether that worked.
fn try_namespace() -> io::Result<()> {
    let isolation = NetworkIsolation::new();
    // SAFETY: the child only makes the system calls of NetworkIsolation::enter (written
    // for a forked child: no allocation) and _exits with the errno.
    unsafe {
        match libc::fork() {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                let code = match isolation.enter() {
                    Ok(()) => 0,
                    Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL).clamp(1, 255),
                };
                libc::_exit(code)
            }
            pid => {
                let mut status = 0;
                if libc::waitpid(pid, &mut status, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
                    Some(0) => Ok(()),
                    Some(errno) => Err(io::Error::from_raw_os_error(errno)),
                    None => Err(io::Error::other("the child that tried it was killed")),
                }
            }
        }
    }
}

/// Why a network namespace cannot be made, from the sysctls under `sysctl` (`/proc/sys`),
/// and the fix.
pub fn namespace_lack(error: &io::Error, sysctl: &Path, root: bool) -> Lack {
    let read = |key: &str| {
        std::fs::read_to_string(sysctl.join(key))
            .ok()
            .map(|v| v.trim().to_string())
    };
    let as_root = if root {
        "give leakcheck CAP_SYS_ADMIN (in a container: --cap-add SYS_ADMIN)"
    } else {
        "run leakcheck as root (sudo)"
    };
    let (what, fix) = if !root
        && read("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        (
            "unprivileged user namespaces, which AppArmor restricts here (kernel.apparmor_restrict_unprivileged_userns=1: Ubuntu 23.10 and later, GitHub's ubuntu-24.04 runners, actions/runner-images#10443)".to_string(),
            format!("{as_root}, or allow them: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
        )
    } else if !root && read("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        (
            "unprivileged user namespaces, which are disabled here (kernel.unprivileged_userns_clone=0)".to_string(),
            format!("{as_root}, or allow them: sudo sysctl -w kernel.unprivileged_userns_clone=1"),
        )
    } else if read("user/max_user_namespaces").as_deref() == Some("0") {
        (
            "user namespaces, which are disabled here (user.max_user_namespaces=0)".to_string(),
            format!("{as_root}, or allow them: sudo sysctl -w user.max_user_namespaces=15000"),
        )
    } else {
        (
            format!("network namespaces ({error})"),
            "run leakcheck as root or with CAP_SYS_ADMIN (in a container: --cap-add SYS_ADMIN, and a seccomp profile that allows unshare), or enable unprivileged user namespaces".to_string(),
        )
    };
    Lack {
        what: format!("{what}: --isolate-network and every control need a fresh network namespace"),
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysctls(values: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (key, value) in values {
            let path = dir.path().join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, format!("{value}\n")).unwrap();
        }
        dir
    }

    #[test]
    fn the_namespace_fix_names_the_sysctl_in_the_way() {
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        let ubuntu = sysctls(&[
            ("kernel/apparmor_restrict_unprivileged_userns", "1"),
            ("user/max_user_namespaces", "63000"),
        ]);
        let lack = namespace_lack(&eperm, ubuntu.path(), false);
        assert!(
            lack.what.contains("AppArmor") && lack.what.contains("#10443"),
            "{lack:?}"
        );
        assert!(
            lack.fix
                .contains("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
            "{lack:?}"
        );
        let debian = sysctls(&[("kernel/unprivileged_userns_clone", "0")]);
        let lack = namespace_lack(&eperm, debian.path(), false);
        assert!(
            lack.fix.contains("kernel.unprivileged_userns_clone=1"),
            "{lack:?}"
        );
        let none = sysctls(&[("user/max_user_namespaces", "0")]);
        assert!(namespace_lack(&eperm, none.path(), true)
            .fix
            .contains("user.max_user_namespaces=15000"));
        // Root is not restricted by AppArmor's rule: the generic answer.
        let lack = namespace_lack(&eperm, ubuntu.path(), true);
        assert!(lack.what.contains("Operation not permitted"), "{lack:?}");
        assert!(lack.fix.contains("CAP_SYS_ADMIN"), "{lack:?}");
    }

    #[test]
    fn labels_round_trip() {
        for v in Variant::ALL {
            assert_eq!(Variant::from_label(v.label()), Some(v));
        }
        assert_eq!(Variant::from_label("gdb"), None);
    }
}
