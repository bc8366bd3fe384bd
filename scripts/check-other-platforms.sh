#!/usr/bin/env bash
# Checks that leakcheck, leakcheck-macros and cargo-leakcheck compile on platforms other
# than Linux (macOS, Windows), where there is no tracer.
#
# With a non-Linux target's std installed (`rustup target list --installed`), it runs
# `cargo check --target` for it. Without one (the usual case; it cannot be downloaded
# everywhere), it compiles them as they would be there, on Linux: a copy of the crates in
# which every `target_os = "linux"` reads `any()` (false), so that the Linux-only
# modules and the nix dependency are left out and the other branches are compiled.
# That copy is then used by a crate with #[leak_free] tests, which must pass untraced
# and fail under LEAKCHECK_REQUIRE=1. (What `cargo leakcheck` says there is tested on
# Linux with LEAKCHECK_SIMULATE_NO_TRACER=1: tests/other_platforms.rs.)
#
#   CHECK_TARGET_DIR   target directory for the copy (default: a temporary one)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
crates=(leakcheck-core leakcheck leakcheck-macros cargo-leakcheck)
packages=(-p leakcheck-core -p leakcheck -p leakcheck-macros -p cargo-leakcheck)

checked=0
installed="$(rustup target list --installed 2>/dev/null || true)"
for target in x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc x86_64-pc-windows-gnu; do
    if printf '%s\n' "$installed" | grep -qx "$target"; then
        echo "check-other-platforms: cargo check --target $target"
        (cd "$root" && cargo check "${packages[@]}" --target "$target")
        checked=1
    fi
done
if [ "$checked" = 1 ]; then
    exit 0
fi
echo "check-other-platforms: no macOS or Windows std installed; compiling with target_os = \"linux\" false instead"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/Cargo.toml" "$root/Cargo.lock" "$work/"
for crate in "${crates[@]}"; do
    cp -r "$root/$crate" "$work/$crate"
    rm -rf "$work/$crate/target"
done
sed -i 's/^members = .*/members = ["leakcheck-core", "leakcheck", "leakcheck-macros", "cargo-leakcheck"]/' "$work/Cargo.toml"
grep -rlZ 'target_os = "linux"' "$work" --include='*.rs' --include=Cargo.toml |
    xargs -0 sed -i 's/target_os = "linux"/any()/g'
# What Linux's std and libc have and Windows' do not must not be used there either: the
# copy has neither (the Linux-only modules that use them are left out).
grep -rlZ -e 'std::os::unix' -e 'std::os::linux' -e 'std::os::fd' "$work" --include='*.rs' |
    xargs -0 -r sed -i -e 's/std::os::unix/std::os::not_on_windows/g' \
        -e 's/std::os::linux/std::os::not_on_windows/g' -e 's/std::os::fd/std::os::not_on_windows/g'
sed -i '/^libc\.workspace = true$/d' "$work"/*/Cargo.toml

export CARGO_TARGET_DIR="${CHECK_TARGET_DIR:-$work/target}"
# Warnings fail too: code that only Linux uses must say so.
log="$work/check.log"
if ! cargo check --offline --quiet --manifest-path "$work/Cargo.toml" "${packages[@]}" --lib --bins 2>"$log" ||
    grep -q '^warning' "$log"; then
    cat "$log"
    echo "check-other-platforms: the crates do not compile cleanly without Linux" >&2
    exit 1
fi

# A crate with #[leak_free] tests, built against that copy: its tests run untraced (and
# say so once), and fail under LEAKCHECK_REQUIRE=1.
demo="$work/demo"
mkdir -p "$demo/src"
cat >"$demo/Cargo.toml" <<TOML
[package]
name = "untraced-demo"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
leakcheck = { path = "../leakcheck" }

[workspace]
TOML
cat >"$demo/src/lib.rs" <<'RUST'
#[cfg(test)]
mod tests {
    use leakcheck::leak_free;

    #[leak_free]
    fn hermetic() {
        assert_eq!(1 + 1, 2);
    }

    #[leak_free(allow = ["127.0.0.1:9050"])]
    fn returns_ok() -> Result<(), String> {
        Ok(())
    }
}
RUST
cp "$work/Cargo.lock" "$demo/Cargo.lock"
out="$(cd "$demo" && cargo test --offline --quiet 2>&1)" || {
    printf '%s\n' "$out"
    echo "check-other-platforms: the #[leak_free] tests did not pass untraced" >&2
    exit 1
}
if ! printf '%s\n' "$out" | grep -q "#\[leak_free\] tests run untraced here"; then
    printf '%s\n' "$out"
    echo "check-other-platforms: no note that the tests ran untraced" >&2
    exit 1
fi
if [ "$(printf '%s\n' "$out" | grep -c "run untraced here")" != 1 ]; then
    printf '%s\n' "$out"
    echo "check-other-platforms: the note is not printed exactly once" >&2
    exit 1
fi
if out="$(cd "$demo" && LEAKCHECK_REQUIRE=1 cargo test --offline --quiet 2>&1)"; then
    printf '%s\n' "$out"
    echo "check-other-platforms: LEAKCHECK_REQUIRE=1 did not fail the untraced tests" >&2
    exit 1
fi
if ! printf '%s\n' "$out" | grep -q "LEAKCHECK_REQUIRE=1 makes an untraced test fail"; then
    printf '%s\n' "$out"
    echo "check-other-platforms: the failure does not name LEAKCHECK_REQUIRE" >&2
    exit 1
fi
echo "check-other-platforms: ok (leakcheck, leakcheck-macros and cargo-leakcheck compile without Linux; #[leak_free] tests run untraced there, and fail under LEAKCHECK_REQUIRE=1)"
