#!/usr/bin/env bash
# "The quick start runs as pasted": takes the README's quick start as a user would — the
# fenced block after `<!-- quickstart: Cargo.toml -->` and the one after
# `<!-- quickstart: src/main.rs -->` — writes them into a scratch crate under the target
# directory (the library's dependency line turned into a path dependency on this checkout,
# the workspace's Cargo.lock as the starting lock), then builds and runs it. Fails if a
# marker or the dependency line is missing, or if the program fails.
#   URING_QUICKSTART_EDITION  the scratch crate's edition (default 2024, what `cargo new`
#                             makes; the README's doctests compile it as 2021)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
package=uring-zc
edition=${URING_QUICKSTART_EDITION:-2024}

# The fenced block right after the marker line `<!-- quickstart: $1 -->`.
block() {
  awk -v marker="<!-- quickstart: $1 -->" '
    state == 0 && $0 == marker { state = 1; next }
    state == 1 && /^```/ { state = 2; next }
    state == 1 && NF { exit 1 }          # something else between the marker and the block
    state == 2 && /^```/ { state = 3; exit }
    state == 2 { print }
    END { if (state != 3) exit 1 }
  ' README.md || { echo "quickstart: no fenced block after <!-- quickstart: $1 --> in README.md" >&2; exit 1; }
}

deps=$(block Cargo.toml)
main=$(block src/main.rs)
dep_re="^${package}[[:space:]]*=[[:space:]]*\"([^\"]+)\"[[:space:]]*$"
line=$(grep -E "$dep_re" <<<"$deps") || {
  echo "quickstart: the README's Cargo.toml block has no \`$package = \"VERSION\"\` line:" >&2
  echo "$deps" >&2
  exit 1
}
[[ $line =~ $dep_re ]]
version=${BASH_REMATCH[1]}

target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
crate="$target_dir/quickstart"
rm -rf "$crate"
mkdir -p "$crate/src"
{
  cat <<TOML
[package]
name = "quickstart"
version = "0.0.0"
edition = "$edition"
publish = false

# Not a member of the uring workspace.
[workspace]

TOML
  while IFS= read -r l; do
    if [[ $l =~ $dep_re ]]; then
      echo "$package = { version = \"$version\", path = \"$root/uring\" }"
    else
      echo "$l"
    fi
  done <<<"$deps"
} >"$crate/Cargo.toml"
printf '%s\n' "$main" >"$crate/src/main.rs"
cp Cargo.lock "$crate/Cargo.lock"

echo "== quickstart: $crate (edition $edition, $package $version from $root/uring)"
cat "$crate/Cargo.toml"
timeout 600 cargo run --quiet --manifest-path "$crate/Cargo.toml" --target-dir "$target_dir/quickstart-target"
echo "== quickstart: ran as pasted"
