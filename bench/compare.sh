#!/usr/bin/env bash
# Zero-copy throughput, side by side with liburing's own example, against ONE plain TCP sink.
#
# The peer is liburing's examples/send-zerocopy.c as shipped by Debian's liburing-dev; it is
# compiled at run time from the installed package into a temporary directory (never copied
# into this repository). Each round runs every sender once, in an order that rotates from
# round to round, so that machine noise hits all of them alike; the summary gives medians
# and the ratios ours/liburing.
#
#   senders (zero-copy, registered buffer + file, MSG_WAITALL, --inflight per batch):
#     uring raw   : our sender on the raw ring API, --mode zc-fixed
#     liburing zc : send-zerocopy -4 -D 127.0.0.1 -p P -t S -z 1 -s SIZE -n INFLIGHT tcp
#   plain send:
#     uring send  : --mode send
#     liburing send: the same example with -z 0
#
# Units: MB = 10^6 bytes. The example (liburing 2.3) runs for S + 0.2 s (-t S sets
# cfg_runtime_ms = 200 + S*1000) and prints "MB" as bytes>>20 divided by the integer
# S, which overstates its rate; we recompute its rate as MB=N * 2^20 / 10^6 / (S + 0.2).
#
# Needs: cargo, gcc, liburing-dev (Debian: apt-get install -y liburing-dev gcc time).
# Usage: bench/compare.sh [-r ROUNDS] [-t SECONDS] [-s SIZE] [-n INFLIGHT] [-k]
#   -k: keep the sender's and sink's output in the temporary directory (printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5 secs=3 size=65000 inflight=8 keep=0
while getopts "r:t:s:n:k" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    t) secs=$OPTARG ;;
    s) size=$OPTARG ;;
    n) inflight=$OPTARG ;;
    k) keep=1 ;;
    *) sed -n '2,25p' "$0"; exit 2 ;;
  esac
done

example_src=/usr/share/doc/liburing-dev/examples/send-zerocopy.c
for tool in gcc cargo; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "missing /usr/bin/time (apt-get install -y time)" >&2; exit 1; }
if [[ ! -e $example_src && ! -e $example_src.gz ]]; then
  echo "missing $example_src (apt-get install -y liburing-dev)" >&2
  exit 1
fi

tmp=$(mktemp -d)
sink_pid=
cleanup() {
  [[ -n $sink_pid ]] && kill "$sink_pid" 2>/dev/null || true
  if ((keep)); then echo "outputs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- build -------------------------------------------------------------------------------
if [[ -e $example_src ]]; then cp "$example_src" "$tmp/send-zerocopy.c"; else zcat "$example_src.gz" >"$tmp/send-zerocopy.c"; fi
gcc -O2 -o "$tmp/send-zerocopy" "$tmp/send-zerocopy.c" -luring
liburing_version=$(dpkg-query -W -f '${Version}' liburing-dev 2>/dev/null || echo unknown)

target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
cargo build --quiet --release -p uring --example tcp_sink --example zc_send_raw
sink_cmd=("$target_dir/release/examples/tcp_sink" 0)
ours_cmd() { # mode
  cmd=("$target_dir/release/examples/zc_send_raw" --to "127.0.0.1:$port" --mode "$1"
    --size "$size" --inflight "$inflight" --duration "$secs")
}
ours_rate() { sed -n 's/.*MB\/s=\([0-9.]*\).*/\1/p' "$1"; }

# --- sink --------------------------------------------------------------------------------
"${sink_cmd[@]}" >"$tmp/sink.port" 2>"$tmp/sink.log" &
sink_pid=$!
for _ in $(seq 50); do [[ -s $tmp/sink.port ]] && break; sleep 0.1; done
port=$(head -n1 "$tmp/sink.port")
[[ -n $port ]] || { echo "sink did not start" >&2; exit 1; }

# --- senders -----------------------------------------------------------------------------
names=("uring raw zc-fixed" "liburing zc" "uring send" "liburing send")
sender_cmd() { # index -> cmd
  case $1 in
    0) ours_cmd zc-fixed ;;
    1) cmd=("$tmp/send-zerocopy" -4 -D 127.0.0.1 -p "$port" -t "$secs" -z 1 -s "$size" -n "$inflight" tcp) ;;
    2) ours_cmd send ;;
    3) cmd=("$tmp/send-zerocopy" -4 -D 127.0.0.1 -p "$port" -t "$secs" -z 0 -s "$size" -n "$inflight" tcp) ;;
  esac
}
rate_of() { # index out
  case $1 in
    0 | 2) ours_rate "$2" ;;
    1 | 3) awk -v s="$secs" -F'MB=' '/tx=/ { split($2, a, ")"); printf "%.1f\n", a[1] * 1.048576 / (s + 0.2) }' "$2" ;;
  esac
}

echo "zero-copy throughput: TCP 127.0.0.1, size $size, inflight $inflight, ${secs}s per run, $rounds rounds"
echo "kernel $(uname -r), $(nproc) CPUs, liburing-dev $liburing_version, $(date -u +%Y-%m-%dT%H:%MZ)"
declare -A rates cpus
n=${#names[@]}
for ((r = 0; r < rounds; r++)); do
  line="round $((r + 1)):"
  for ((k = 0; k < n; k++)); do
    i=$(((k + r) % n))
    out="$tmp/out.$r.$i"
    sender_cmd "$i"
    /usr/bin/time -f '%U %S' -o "$out.time" "${cmd[@]}" >"$out" 2>&1 \
      || { echo "sender '${names[$i]}' failed: ${cmd[*]}" >&2; cat "$out" >&2; exit 1; }
    rate=$(rate_of "$i" "$out")
    [[ -n $rate ]] || { echo "no rate in output of '${names[$i]}':" >&2; cat "$out" >&2; exit 1; }
    # CPU seconds (user + system) of the sender per GB sent.
    cpu=$(awk -v r="$rate" -v s="$secs" '{ printf "%.3f", ($1 + $2) / (r * s / 1000) }' "$out.time")
    rates[$i]+="$rate "
    cpus[$i]+="$cpu "
    line+=" ${names[$i]}=$rate"
  done
  echo "$line"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.4g\n", m }'; }
echo
printf '%-22s %12s %16s\n' sender "MB/s (median)" "CPU s/GB (median)"
declare -A med
for ((i = 0; i < n; i++)); do
  med[$i]=$(echo "${rates[$i]}" | median)
  printf '%-22s %12s %16s\n' "${names[$i]}" "${med[$i]}" "$(echo "${cpus[$i]}" | median)"
done
echo
awk -v a="${med[0]}" -v b="${med[1]}" 'BEGIN { printf "ratio uring raw zc-fixed / liburing zc   = %.3f (target >= 1.05)\n", a / b }'
awk -v a="${med[2]}" -v b="${med[3]}" 'BEGIN { printf "ratio uring send / liburing send        = %.3f\n", a / b }'
