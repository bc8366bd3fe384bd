#!/usr/bin/env bash
# The GitHub Actions step of leakcheck (action.yml). Inputs arrive only through the
# environment (never expanded into this script by the runner), so a crafted input can
# not inject shell code:
#   LEAKCHECK_INPUT_ALLOW        endpoints, one per line or comma-separated
#   LEAKCHECK_INPUT_ARGS         extra arguments for `cargo leakcheck` (split on blanks)
#   LEAKCHECK_INPUT_LEAKS_ONLY   "true": a failing test does not fail the step, a leak does
#   LEAKCHECK_INPUT_VERSION      "" or "local": build from the action's checkout;
#                                otherwise a crates.io version of cargo-leakcheck
#   LEAKCHECK_ACTION_PATH        the action's checkout (GITHUB_ACTION_PATH)
#   LEAKCHECK_DRY_RUN            "1": print the commands instead of running them (tests)
set -euo pipefail

run() {
    if [ "${LEAKCHECK_DRY_RUN:-}" = "1" ]; then
        printf 'would run:'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

if ! command -v strace >/dev/null 2>&1; then
    echo "leakcheck: installing strace"
    sudo_cmd=()
    if [ "$(id -u)" != "0" ]; then
        sudo_cmd=(sudo)
    fi
    run "${sudo_cmd[@]}" apt-get update -qq
    run "${sudo_cmd[@]}" apt-get install -y -qq strace
fi

version="${LEAKCHECK_INPUT_VERSION:-}"
if [ -z "$version" ] || [ "$version" = "local" ]; then
    run cargo install --locked --path "${LEAKCHECK_ACTION_PATH:?LEAKCHECK_ACTION_PATH is not set}/cargo-leakcheck"
elif ! [[ "$version" =~ ^[0-9A-Za-z.+-]+$ ]]; then
    echo "leakcheck: the version input '$version' is not a version number" >&2
    exit 2
else
    run cargo install --locked cargo-leakcheck --version "$version"
fi

# One endpoint per line, or comma-separated: LEAKCHECK_ALLOW takes commas.
allow="$(printf '%s' "${LEAKCHECK_INPUT_ALLOW:-}" | tr '\n' ',' | tr -d ' \t\r' | sed -e 's/,,*/,/g' -e 's/^,//' -e 's/,$//')"
export LEAKCHECK_ALLOW="$allow"

args=()
if [ "${LEAKCHECK_INPUT_LEAKS_ONLY:-false}" = "true" ]; then
    args+=(--leaks-only)
fi
if [ -n "${LEAKCHECK_INPUT_ARGS:-}" ]; then
    read -r -a extra <<<"${LEAKCHECK_INPUT_ARGS}"
    args+=("${extra[@]}")
fi

echo "leakcheck: allow list: ${LEAKCHECK_ALLOW:-(none: no network allowed)}"
run cargo leakcheck "${args[@]}"
