#!/usr/bin/env bash
# Zero-copy throughput side by side with liburing's own example, against ONE plain TCP sink.
#
# The peer is liburing's examples/send-zerocopy.c, compiled at run time into a temporary
# directory (never copied into this repository) by bench/liburing_example.sh: liburing
# 2.15's (LIBURING_SRC=a liburing source tree, or a clone of its tag), else Debian's
# liburing-dev (2.3). Every round runs every sender once, in an order that rotates from
# round to round, so that machine noise hits all of them alike; the summary gives medians
# and the ratios ours/liburing and safe API/raw API.
#
# Senders (TCP to 127.0.0.1, payload SIZE, INFLIGHT requests per batch, registered file):
#   uring raw zc-fixed : uring bench --to 127.0.0.1:P --mode zc-fixed --size SIZE
#                        --inflight INFLIGHT --duration S --fixed-file --api raw
#   uring safe zc-fixed: the same with --api safe and without --fixed-file: the safe
#                        zero-copy layer (ZcSender, Policy::Always, BufferPool slots), which
#                        sends on the socket's fd
#   liburing zc        : send-zerocopy -4 -D 127.0.0.1 -p P -t S -z 1 -s SIZE -n INFLIGHT tcp
#   uring raw send     : --mode send (plain IORING_OP_SEND)
#   uring safe send    : --mode send --api safe (ZcSender, Policy::Never, Vec buffers)
#   liburing send      : the same example with -z 0
# The sink is `uring bench --listen 127.0.0.1:0` (plain recv(2) calls, one thread per
# connection), the same for every sender. A sender that cannot run here is left out after
# a short preflight run, with its error.
#
# liburing 2.3's example: registered buffer (-b 1, default) and file, MSG_WAITALL on
# zero-copy sends, flags 0 on plain sends, SO_SNDBUF 2 MiB, COOP_TASKRUN, registered ring
# fd. It runs for S + 0.2 s (-t S sets cfg_runtime_ms = 200 + S*1000) and prints MB/s as
# (bytes >> 20) / S, which overstates its rate; we recompute its rate from its "MB=" total
# as MB * 2^20 / 10^6 / (S + 0.2). All rates here are MB/s with MB = 10^6 bytes.
# CPU s/GB is the sender process's user + system time (/usr/bin/time) per 10^9 bytes.
#
# liburing 2.15's example differs: no SO_SNDBUF, COOP_TASKRUN | SINGLE_ISSUER (DEFER_TASKRUN
# with -d), and it reports MiB/s over the time it measured itself ran.
# RAW_OPTS adds options to the raw loop's command (e.g. RAW_OPTS="--taskrun coop").
# Needs: cargo, gcc, a liburing source (see bench/liburing_example.sh), time.
# Usage: bench/compare.sh [-r ROUNDS] [-t SECONDS] [-s SIZE] [-n INFLIGHT] [-p] [-c] [-k]
#   -p: run the sink and the senders at nice -19 (root), to shield them from other load
#   -c: pin every sender to CPU 0 and the sink to CPU 1 (taskset), the same for all
#   -k: keep every sender's and the sink's output in the temporary directory
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5 secs=3 size=65000 inflight=8 keep=0 nice=() pin_tx=() pin_rx=()
# RAW_OPTS: options added to the raw loop's command (e.g. "--taskrun coop --reap wait").
read -r -a tuning <<<"${RAW_OPTS:-}"
while getopts "r:t:s:n:pck" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    t) secs=$OPTARG ;;
    s) size=$OPTARG ;;
    n) inflight=$OPTARG ;;
    p) nice=(nice -n -19) ;;
    c) pin_tx=(taskset -c 0) pin_rx=(taskset -c 1) ;;
    k) keep=1 ;;
    *) sed -n '2,39p' "$0"; exit 2 ;;
  esac
done

for tool in gcc cargo; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "missing /usr/bin/time (apt-get install -y time)" >&2; exit 1; }

tmp=$(mktemp -d)
sink_pid=
cleanup() {
  if [[ -n $sink_pid ]]; then kill "$sink_pid" 2>/dev/null || true; fi
  if ((keep)); then echo "outputs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- build -------------------------------------------------------------------------------
# liburing 2.15's example (LIBURING_SRC, or a clone of its tag), else Debian's liburing-dev.
built=$(bench/liburing_example.sh "$tmp/liburing") || exit 1
example=$(head -n1 <<<"$built")
liburing_version=$(sed -n 2p <<<"$built")

metadata=$(cargo metadata --format-version 1 --no-deps)
target_dir=$(sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p' <<<"$metadata")
grep -q '"name":"uring-cli"' <<<"$metadata" || { echo "the workspace has no uring-cli" >&2; exit 1; }
cargo build --quiet --release -p uring-cli
uring=$target_dir/release/uring
sink_cmd=("$uring" bench --listen 127.0.0.1:0)
names=("uring raw zc-fixed" "uring safe zc-fixed" "liburing zc" "uring raw send" "uring safe send" "liburing send")
# Pairs compared (indices into names): ours against liburing, then the safe API against
# the raw one (the cost of the safety layer).
pairs=("0 2" "1 2" "3 5" "4 5" "1 0" "4 3")

# --- sink --------------------------------------------------------------------------------
"${nice[@]}" "${pin_rx[@]}" "${sink_cmd[@]}" >"$tmp/sink.out" 2>"$tmp/sink.err" &
sink_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/sink.out" | head -n1)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { echo "the sink did not start:" >&2; cat "$tmp/sink.err" >&2; exit 1; }

# --- senders -----------------------------------------------------------------------------
sender_cmd() { # name -> cmd (array) and kind (ours|liburing)
  local name=$1 mode api
  case $name in
    liburing*)
      kind=liburing
      local z=1
      [[ $name == *send ]] && z=0
      cmd=("$example" -4 -D 127.0.0.1 -p "$port" -t "$secs" -z "$z" -s "$size" -n "$inflight" tcp)
      return
      ;;
  esac
  kind=ours
  mode=${name##* }
  api=${name#uring }
  api=${api%% *}
  cmd=("$uring" bench --to "127.0.0.1:$port" --mode "$mode" --size "$size" --inflight "$inflight"
    --duration "$secs" --api "$api")
  # A registered file (as liburing's example) where the API has one: the raw loop.
  [[ $api == raw ]] && cmd+=(--fixed-file "${tuning[@]}")
  return 0
}
rate_of() { # kind file -> MB/s
  case $1 in
    # 2.15: "packets=N (MB=M), rps=R (MB/s=X)", X MiB/s over the time it ran; 2.3: "tx=N
    # (MB=M), ..." with M MiB over -t + 0.2 s.
    liburing) grep -q 'packets=.*MB/s=' "$2" \
      && { sed -n 's/^.*packets=[0-9]* (MB=[0-9]*), rps=[0-9]* (MB\/s=\([0-9]*\)).*$/\1/p' "$2" | awk '{ printf "%.1f\n", $1 * 1.048576 }'; return; }
      awk -v s="$secs" -F'MB=' '/tx=/ { split($2, a, ")"); printf "%.1f\n", a[1] * 1.048576 / (s + 0.2) }' "$2" ;;
    ours) grep -oE '[0-9.]+ MB/s' "$2" | head -n1 | cut -d' ' -f1 ;; # "to ...: X MB/s, ..."
  esac
}
run_secs() { # kind -> wall seconds of the sending loop
  case $1 in liburing) awk -v s="$secs" 'BEGIN { print s + 0.2 }' ;; ours) echo "$secs" ;; esac
}

echo "zero-copy throughput: TCP 127.0.0.1, size $size, inflight $inflight, ${secs}s per run, $rounds rounds${nice:+, nice -19}${pin_tx:+, sender on CPU 0, sink on CPU 1}"
echo "kernel $(uname -r), $(nproc) CPUs, $liburing_version, $(date -u +%Y-%m-%dT%H:%MZ)${tuning:+, raw loop: ${tuning[*]}}"
# Preflight: a short run of every sender; one that cannot run here (e.g. the safe API
# before the safe layer exists) is left out, with its error.
declare -A rates cpus skip
n=${#names[@]}
for ((i = 0; i < n; i++)); do
  saved=$secs
  secs=1
  sender_cmd "${names[$i]}"
  secs=$saved
  if ! "${cmd[@]}" >"$tmp/preflight.$i" 2>&1; then
    skip[$i]=1
    echo "left out: ${names[$i]}: $(grep -v '^$' "$tmp/preflight.$i" | tail -n1)"
  fi
done
for ((r = 0; r < rounds; r++)); do
  line="round $((r + 1)):"
  for ((k = 0; k < n; k++)); do
    i=$(((k + r) % n))
    [[ -n ${skip[$i]:-} ]] && continue
    name=${names[$i]}
    out="$tmp/out.$r.$i"
    sender_cmd "$name"
    "${nice[@]}" "${pin_tx[@]}" /usr/bin/time -f '%U %S' -o "$out.time" "${cmd[@]}" >"$out" 2>&1 \
      || { echo "sender '$name' failed: ${cmd[*]}" >&2; cat "$out" >&2; exit 1; }
    rate=$(rate_of "$kind" "$out")
    [[ -n $rate ]] || { echo "no rate in the output of '$name':" >&2; cat "$out" >&2; exit 1; }
    cpu=$(awk -v r="$rate" -v s="$(run_secs "$kind")" '{ printf "%.3f", ($1 + $2) / (r * s / 1000) }' "$out.time")
    rates[$i]+="$rate "
    cpus[$i]+="$cpu "
    line+=" [$name] $rate"
  done
  echo "$line"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f\n", m }'; }
median3() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f\n", m }'; }
echo
printf '%-22s %14s %18s\n' sender "MB/s (median)" "CPU s/GB (median)"
declare -A med
for ((i = 0; i < n; i++)); do
  [[ -n ${skip[$i]:-} ]] && continue
  med[$i]=$(median <<<"${rates[$i]}")
  printf '%-22s %14s %18s\n' "${names[$i]}" "${med[$i]}" "$(median3 <<<"${cpus[$i]}")"
done
echo
for pair in "${pairs[@]}"; do
  read -r i p <<<"$pair"
  [[ -n ${skip[$i]:-} || -n ${skip[$p]:-} ]] && continue
  # Per-round ratios too: their median is less sensitive to drifts across the run.
  per_round=$(paste -d' ' <(tr ' ' '\n' <<<"${rates[$i]}" | grep -v '^$') <(tr ' ' '\n' <<<"${rates[$p]}" | grep -v '^$') \
    | awk '{ printf "%.3f ", $1 / $2 }')
  stats=$(tr ' ' '\n' <<<"$per_round" | grep -v '^$' | sort -g | awk '{ a[NR] = $1; if ($1 > 1) w++ }
    END { printf "%.3f, IQR %.3f-%.3f, first ahead in %d of %d rounds", \
      a[int((NR + 1) / 2)] / 2 + a[int(NR / 2) + 1] / 2, a[int((NR + 3) / 4)], a[NR + 1 - int((NR + 3) / 4)], w + 0, NR }')
  awk -v a="${med[$i]}" -v b="${med[$p]}" -v x="${names[$i]}" -v y="${names[$p]}" -v m="$stats" \
    'BEGIN { printf "ratio %-19s / %-18s = %.3f (per-round ratios: median %s)\n", x, y, a / b, m }'
done
