#!/usr/bin/env bash
# The GitHub Actions step of leakcheck (action.yml). Inputs arrive only through the
# environment (never expanded into this script by the runner), so a crafted input can
# not inject shell code:
#   LEAKCHECK_INPUT_ALLOW        endpoints, one per line or comma-separated
#   LEAKCHECK_INPUT_ARGS         extra arguments for `cargo leakcheck` (split on blanks)
#   LEAKCHECK_INPUT_LEAKS_ONLY   "true": a failing test does not fail the step, a leak does
#   LEAKCHECK_INPUT_VERSION      "" or "local": build from the action's checkout;
#                                otherwise a crates.io version of cargo-leakcheck
#   LEAKCHECK_INPUT_SELF_TEST    "false": skip `cargo leakcheck self-test` (default: run it)
#   LEAKCHECK_ACTION_PATH        the action's checkout (GITHUB_ACTION_PATH)
#   RUNNER_ENVIRONMENT           set by GitHub: "github-hosted" on its own (ephemeral) VMs
#   LEAKCHECK_DRY_RUN            "1": print the commands instead of running them (tests)
#   LEAKCHECK_SYSCTL_DIR         where the sysctls are read (tests; default /proc/sys)
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

sudo_cmd=()
if [ "$(id -u)" != "0" ]; then
    sudo_cmd=(sudo)
fi

if ! command -v strace >/dev/null 2>&1; then
    echo "leakcheck: installing strace"
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

self_test="${LEAKCHECK_INPUT_SELF_TEST:-true}"

# The self-test and --isolate-network need a fresh network namespace. Ubuntu 24.04
# (ubuntu-latest) lets AppArmor deny unprivileged user namespaces
# (kernel.apparmor_restrict_unprivileged_userns=1, actions/runner-images#10443). On
# GitHub's own runners, ephemeral VMs, the step relaxes that sysctl for the rest of the
# job (what the runner-images issue recommends) rather than running cargo as root, which
# would leave root-owned files in target/. A self-hosted runner is left as it is: the
# self-test then names the fix.
needs_namespace=false
if [ "$self_test" != "false" ]; then
    needs_namespace=true
fi
for arg in "${args[@]}"; do
    case "$arg" in
    --isolate-network | --stand-in | --stand-in=*) needs_namespace=true ;;
    esac
done
restrict="${LEAKCHECK_SYSCTL_DIR:-/proc/sys}/kernel/apparmor_restrict_unprivileged_userns"
if [ "$needs_namespace" = true ] && [ "$(id -u)" != "0" ] && [ "$(cat "$restrict" 2>/dev/null || echo 0)" = "1" ]; then
    if [ "${RUNNER_ENVIRONMENT:-}" = "github-hosted" ]; then
        echo "::notice title=leakcheck::AppArmor restricts unprivileged user namespaces on this runner; allowing them for this job (sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0) so that leakcheck can make network namespaces"
        run sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0
    else
        echo "::warning title=leakcheck::AppArmor restricts unprivileged user namespaces on this self-hosted runner (kernel.apparmor_restrict_unprivileged_userns=1); leakcheck cannot make network namespaces. Fix: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 on the runner, or run the job as root"
    fi
fi

# The positive controls first: a verdict is only worth something where they are caught.
if [ "$self_test" != "false" ]; then
    echo "::group::cargo leakcheck self-test"
    status=0
    run cargo leakcheck self-test || status=$?
    echo "::endgroup::"
    case "$status" in
    0) ;;
    1)
        echo "::error title=leakcheck self-test failed::a positive control was missed or a clean twin flagged: leakcheck's verdicts cannot be trusted on this runner (the table is in the step's log, under 'cargo leakcheck self-test')"
        exit 1
        ;;
    2)
        echo "::error title=leakcheck self-test could not run::this runner lacks what leakcheck needs (network namespaces or a tracer); the fix is in the step's log, under 'cargo leakcheck self-test'. Set the input self-test: false to run without it"
        exit 2
        ;;
    *)
        echo "::error title=leakcheck self-test failed::cargo leakcheck self-test exited with status $status"
        exit "$status"
        ;;
    esac
fi

echo "leakcheck: allow list: ${LEAKCHECK_ALLOW:-(none: no network allowed)}"
run cargo leakcheck "${args[@]}"
