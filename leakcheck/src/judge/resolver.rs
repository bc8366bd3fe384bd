//! Name lookups handed to a local resolver daemon over a unix socket: nscd hosts
//! requests and systemd-resolved's varlink sockets.

use super::findings::Target;
use super::Judge;
use crate::event::Event;
use crate::kind::Kind;
use crate::query::daemons;
use crate::syntax::Shown;

/// Where glibc's nscd client connects: a hosts request here is a name lookup.
pub(super) const NSCD_SOCKETS: [&str; 2] = ["/var/run/nscd/socket", "/run/nscd/socket"];
/// systemd-resolved's varlink sockets: any connection is a name lookup.
pub(super) const RESOLVED_DIRS: [&str; 2] = ["/run/systemd/resolve/", "/var/run/systemd/resolve/"];
/// nscd request types that look up hosts: GETHOSTBYNAME(v6), GETHOSTBYADDR(v6),
/// GETFDHST (maps the hosts cache, after which lookups need no system call), GETAI.
pub(super) const NSCD_HOST_REQUESTS: [i32; 6] = [4, 5, 6, 7, 13, 14];

/// Whether a unix path is one of systemd-resolved's sockets.
pub(super) fn is_resolved(path: &str) -> bool {
    RESOLVED_DIRS.iter().any(|dir| path.starts_with(dir))
}

impl Judge {
    /// A send without a destination on a unix socket connected to nscd: a name lookup if
    /// the request is a hosts request, or if the request cannot be read (fail closed).
    /// The finding's query is the request's key: the first request of a lookup asks for
    /// the hosts cache (`hosts`), the next names the host.
    pub(super) fn judge_resolver_request(
        &mut self,
        event: &Event,
        shown: Shown<'_>,
        syscall: &str,
        fd: i32,
        payload: Option<&Vec<u8>>,
    ) {
        // Only this thread's own descriptor: another process's nscd connect on the same
        // number says nothing about this one.
        let Some(path) = self
            .sockets
            .get(&(event.pid, fd))
            .and_then(|s| s.unix_peer.as_ref())
        else {
            return;
        };
        if !NSCD_SOCKETS.contains(&path.as_str()) {
            return;
        }
        let path = path.clone();
        let request_type = payload.and_then(|p| daemons::nscd_request_type(p));
        let is_hosts = match request_type {
            Some(t) => NSCD_HOST_REQUESTS.contains(&t),
            None => true,
        };
        if is_hosts {
            let dest = format!("unix:{path}");
            let finding = self.report(
                event,
                shown,
                Kind::Dns,
                Some(dest),
                syscall,
                Target::Unix(path),
            );
            if let Some(question) = payload.and_then(|p| daemons::nscd_question(p)) {
                let task = self.tasks.task(event.pid);
                self.asked(finding, task, [question]);
            }
        }
    }
}
