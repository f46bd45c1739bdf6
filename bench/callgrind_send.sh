#!/usr/bin/env bash
# User-space instructions per buffer sent, the safe layer against our raw ring loop, for the
# same mode and size: `uring bench --to` sends to a sink in another process (not counted),
# under callgrind, at two run lengths; instructions per buffer = difference of the totals
# divided by the difference of the buffers sent (bytes_sent / size in the JSON), so set-up
# and exit cancel out. Callgrind runs the sender ~50x slower, so the sink is never the
# bottleneck and the sender never waits long for the kernel.
# Run under scripts/drop_path.sh (URING_DROP_DEST set), it measures the drop path instead:
# UDP datagrams to that address (no sink; the raw loop names the socket by a registered
# file, as the safe layer does): `scripts/drop_path.sh -- bench/callgrind_send.sh send,zc-fixed`.
# Needs: valgrind (apt-get install -y valgrind).
# Usage: bench/callgrind_send.sh [MODES] [SIZES] [SHORT_S] [LONG_S]
#   default: send,zc,zc-fixed,auto  1400,65536  1  3
set -euo pipefail
cd "$(dirname "$0")/.."

modes=${1:-send,zc,zc-fixed,auto}
sizes=${2:-1400,65536}
short=${3:-1}
long=${4:-3}
port=${URING_CG_PORT:-9571}
command -v valgrind >/dev/null || { echo "missing valgrind (apt-get install -y valgrind)" >&2; exit 1; }

tmp=$(mktemp -d)
sink=
cleanup() {
  [[ -n "$sink" ]] && kill "$sink" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cargo build --quiet --release -p uring-cli
metadata=$(cargo metadata --format-version 1 --no-deps)
target_dir=$(sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p' <<<"$metadata")
uring="$target_dir/release/uring"

if [[ -n ${URING_DROP_DEST:-} ]]; then
  target=(--udp --to "$URING_DROP_DEST:9")
  raw_opts=(--fixed-file)
  where="UDP on the drop path to $URING_DROP_DEST"
else
  target=(--to "127.0.0.1:$port")
  raw_opts=()
  where="TCP to a sink in another process"
  "$uring" bench --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  sink=$!
  for _ in $(seq 50); do # bounded: 5 s for the sink to listen
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
    sleep 0.1
  done
fi

# "instructions buffers" for one run.
run() { # api mode size seconds
  local out="$tmp/cg.out" json
  local extra=()
  [[ $1 == raw ]] && extra=("${raw_opts[@]}")
  json=$(valgrind --tool=callgrind --callgrind-out-file="$out" "$uring" bench "${target[@]}" "${extra[@]}" \
    --api "$1" --mode "$2" --size "$3" --duration "$4" --json 2>"$tmp/cg.err") \
    || { cat "$tmp/cg.err" >&2; exit 1; }
  local ir
  ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
  python3 -c 'import json,sys; r=json.loads(sys.argv[1])["results"][0]; print(sys.argv[2], r["bytes_sent"] // int(sys.argv[3]))' \
    "$json" "$ir" "$3"
}

per_buffer() { # api mode size
  local a b
  read -r ia na < <(run "$1" "$2" "$3" "$short")
  read -r ib nb < <(run "$1" "$2" "$3" "$long")
  awk -v a="$ia" -v b="$ib" -v na="$na" -v nb="$nb" \
    'BEGIN { if (nb <= na) { print "n/a"; exit } printf "%.0f", (b - a) / (nb - na) }'
}

echo "callgrind: user-space instructions per buffer sent ($where; ${short} s vs ${long} s runs)"
echo "kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-9s %8s %10s %10s %8s\n' mode size raw safe safe/raw
IFS=, read -ra ms <<<"$modes"
IFS=, read -ra ss <<<"$sizes"
for m in "${ms[@]}"; do
  for s in "${ss[@]}"; do
    # `auto` is the safe layer's policy; its raw counterpart is plain send.
    raw_mode=$m
    [[ $m == auto ]] && raw_mode=send
    r=$(per_buffer raw "$raw_mode" "$s")
    f=$(per_buffer safe "$m" "$s")
    ratio=$(awk -v r="$r" -v f="$f" 'BEGIN { if (r+0 > 0 && f+0 > 0) printf "%.2f", f / r; else print "n/a" }')
    printf '%-9s %8s %10s %10s %8s\n' "$m" "$s" "$r" "$f" "$ratio"
  done
done
