#!/bin/sh
# Compile every probe in this directory into OUTDIR (one binary per probe, named
# after the source file without .c). Fails loudly on the first probe that does
# not compile. Probes are built exactly as the test suite builds them:
#   cc -O1 -pthread -o OUT SRC
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
cc=${CC:-cc}
n=0
for src in "$here"/*.c; do
    name=$(basename "$src" .c)
    if ! "$cc" -O1 -pthread -Wall -Wextra -o "$out/$name" "$src"; then
        echo "build.sh: FAILED to compile probe $name ($src)" >&2
        exit 1
    fi
    n=$((n + 1))
done
if [ "$n" -eq 0 ]; then
    echo "build.sh: no probes found in $here" >&2
    exit 1
fi
echo "build.sh: built $n probes into $out"
