#!/bin/sh
# Re-record leakcheck/tests/traces/<probe>.trace for every probe (run as root).
# Every probe runs in a fresh network namespace with only lo up. Binaries are
# run as ./NAME from /tmp/leakcheck-probes so that execve lines are stable.
#   usage: tests/probes/record.sh [PROBE...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
traces=$here/../../leakcheck/tests/traces
bin=/tmp/leakcheck-probes
"$here/build.sh" "$bin" >/dev/null
TRACE_SET=socket,connect,bind,listen,getsockname,sendto,sendmsg,sendmmsg,ioctl,io_uring_setup,io_uring_enter,io_uring_register,execve,execveat
S=${S:-1024}
[ $# -gt 0 ] || set -- $(cd "$here" && ls *.c | sed 's/\.c$//')
for p in "$@"; do
    out=${OUT:-$traces/$p.trace}
    ( cd "$bin" && env -i PATH=/usr/bin:/bin unshare -n sh -c '
        ip link set lo up
        strace -f --seccomp-bpf -q -e signal=none -s "$1" -e trace="$2" -o "$3" -- "./$4"' \
        sh "$S" "$TRACE_SET" "$out" "$p" ) || echo "record.sh: $p exited with $?" >&2
done
