#!/usr/bin/env bash
# User-space instructions per NOP round trip (batch B, default 32): ours (uring/examples/nop.rs),
# tokio's io-uring crate (uring/examples/nop_peer_io_uring.rs) and liburing (bench/nop_liburing.c),
# each counted by callgrind at two run lengths; instructions/op = difference of the totals
# divided by the difference of the op counts, so start-up and exit cancel out. When the
# workspace has the CLI, `uring bench nop` (the same loop, checking each result) is listed too.
# Needs: valgrind, gcc, liburing-dev (Debian: apt-get install -y valgrind liburing-dev).
# Usage: bench/callgrind_nop.sh [BATCH] [OPS_SHORT] [OPS_LONG]
set -euo pipefail
cd "$(dirname "$0")/.."

batch=${1:-32}
short=${2:-32000}
long=${3:-96000}
for tool in valgrind gcc; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y valgrind gcc liburing-dev)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo build --quiet --release -p uring-zc --example nop --example nop_peer_io_uring
metadata=$(cargo metadata --format-version 1 --no-deps)
target_dir=$(sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p' <<<"$metadata")
have_cli=0
if grep -q '"name":"uring-cli"' <<<"$metadata"; then
  cargo build --quiet --release -p uring-cli
  have_cli=1
fi
gcc -O2 -g bench/nop_liburing.c -o "$tmp/nop_liburing" -luring

args() { # ops command...
  local ops=$1 arg
  shift
  if [[ "$*" == *@OPS@* ]]; then
    for arg in "$@"; do arg=${arg//@OPS@/$ops}; echo "${arg//@BATCH@/$batch}"; done
  else
    printf '%s\n' "$@" "$ops" "$batch"
  fi
}

# Total instructions (Ir) callgrind counted for one run: "summary: N" in its output file.
count() {
  local out="$tmp/cg.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$tmp/cg.err" \
    || { cat "$tmp/cg.err" >&2; exit 1; }
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out"
}

per_op() { # command... (OPS and BATCH are appended, or substituted for @OPS@ / @BATCH@)
  local a b cmd
  mapfile -t cmd < <(args "$short" "$@")
  a=$(count "${cmd[@]}")
  mapfile -t cmd < <(args "$long" "$@")
  b=$(count "${cmd[@]}")
  awk -v a="$a" -v b="$b" -v n=$((long - short)) 'BEGIN { printf "%.2f", (b - a) / n }'
}

echo "callgrind: user-space instructions per NOP round trip, batch $batch ($short vs $long ops)"
echo "kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
ours=$(per_op "$target_dir/release/examples/nop")
inplace=$(per_op "$target_dir/release/examples/nop" @OPS@ @BATCH@ in-place)
peer=$(per_op "$target_dir/release/examples/nop_peer_io_uring")
lib=$(per_op "$tmp/nop_liburing")
printf '%-16s %8s instr/op\n' "uring (copy)" "$ours" "uring (in place)" "$inplace" \
  io-uring "$peer" liburing "$lib"
if ((have_cli)); then
  cli=$(per_op "$target_dir/release/uring" bench nop --ops @OPS@ --batch @BATCH@)
  cli_in=$(per_op "$target_dir/release/uring" bench nop --ops @OPS@ --batch @BATCH@ --in-place)
  printf '%-16s %8s instr/op\n' "uring bench nop" "$cli" "... --in-place" "$cli_in"
fi
awk -v o="$ours" -v i="$inplace" -v p="$peer" -v l="$lib" 'BEGIN {
  printf "ratio uring (copy)/io-uring = %.3f, /liburing = %.3f\n", o / p, o / l
  printf "ratio uring (in place)/io-uring = %.3f, /liburing = %.3f\n", i / p, i / l }'
