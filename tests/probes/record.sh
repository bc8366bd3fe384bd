#!/bin/sh
# Re-record leakcheck/tests/traces/<probe>.trace for every probe (run as root).
# Every probe runs in a fresh network namespace with only lo up. Binaries are
# run as ./NAME from /tmp/leakcheck-probes (env -i PATH=...) so that execve
# lines are stable.
#   usage: tests/probes/record.sh [PROBE...]
# Environment knobs (defaults give <probe>.trace):
#   S=N           strace -s value (default 1024)
#   ROUTED=1      also `ip route add default dev lo` in the namespace, so that
#                 outside addresses are "reachable" (packets loop back to lo and
#                 are dropped: still nothing leaves the namespace). Gives
#                 EINPROGRESS / successful sendto shapes. Output <probe>.routed.trace
#   NOSECCOMP=1   leave out --seccomp-bpf. Output <probe>.noseccomp.trace
#   OUT=FILE      explicit output file (single probe)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
traces=$here/../../leakcheck/tests/traces
bin=/tmp/leakcheck-probes
"$here/build.sh" "$bin" >/dev/null
TRACE_SET=socket,connect,bind,listen,getsockname,sendto,sendmsg,sendmmsg,ioctl,io_uring_setup,io_uring_enter,io_uring_register,execve,execveat
S=${S:-1024}
suffix=
route=true
seccomp=--seccomp-bpf
if [ "${ROUTED:-}" = 1 ]; then suffix=.routed; route='ip route add default dev lo; ip -6 route add default dev lo'; fi
if [ "${NOSECCOMP:-}" = 1 ]; then suffix=$suffix.noseccomp; seccomp=; fi
[ $# -gt 0 ] || set -- $(cd "$here" && ls *.c | sed 's/\.c$//')
for p in "$@"; do
    out=${OUT:-$traces/$p$suffix.trace}
    ( cd "$bin" && env -i PATH=/usr/bin:/bin unshare -n sh -c '
        ip link set lo up
        '"$route"'
        strace -f '"$seccomp"' -q -e signal=none -s "$1" -e trace="$2" -o "$3" -- "./$4"' \
        sh "$S" "$TRACE_SET" "$out" "$p" ) || echo "record.sh: $p exited with $?" >&2
done
