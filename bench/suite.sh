#!/usr/bin/env bash
# Every comparison of issue 9 in one run: alternating rounds, medians, ratios.
#
# Each round runs every job below once, in an order that rotates from round to round, so
# that machine noise hits all of them alike; within a job, the order of its modes and of its
# sizes rotates too. The summary gives ratios of medians (and the
# median of the per-round ratios, which drifts across the run disturb less).
#
#   1. TCP loopback, our own receiver (`uring bench`, no --to), sizes LOOP_SIZES:
#      raw  : --api raw  --fixed-file --mode send,zc,zc-fixed
#      safe : --api safe              --mode send,zc,zc-fixed,auto
#      -> safe / raw for the same mode at every size (the safe layer always names its
#         socket by a registered-file slot, hence --fixed-file for the raw loop);
#      -> auto / the better of safe send and safe zc-fixed at every size (the mode with the
#         higher median over the run, named in the line).
#   2. The drop path (scripts/drop_path.sh: UDP out of a veth end whose peer is down,
#      where zero-copy pages are released uncopied), sizes DROP_SIZES:
#      raw  : --udp --to DEST:9 --api raw --fixed-file --mode send,zc-fixed
#      safe : --udp --to DEST:9 --api safe            --mode send,zc-fixed,auto
#      liburing's examples/send-zerocopy.c: -4 -D DEST -p 9 -z 1 -s SIZE -n INFLIGHT udp
#      -> safe / raw, auto / best of (safe send, safe zc-fixed), raw zc-fixed / liburing.
#   3. TCP loopback into ONE plain sink (`uring bench --listen`), 65000 B:
#      raw zc-fixed (--to, --fixed-file) against liburing's example (-z 1 ... tcp).
#
# The issue's targets are printed beside each ratio; a smoke run (-t 0.2 -r 1) only shows
# that every job runs: its numbers mean nothing.
#
# liburing's example is compiled at run time into a temporary directory (never copied into
# this repository) by bench/liburing_example.sh: liburing 2.15's from LIBURING_SRC or a
# clone of its tag, else Debian's liburing-dev (2.3), as bench/compare.sh does. Its -t takes
# whole seconds and it runs for 0.2 s more (and divides by zero below 1 s), so it runs for
# 0.2 + max(1, round(SECONDS)) s; its rate is recomputed from its "MB=" total over that time.
# Rates are MB/s with MB = 10^6 bytes. Without liburing-dev and gcc (or with -x) the
# liburing comparisons are left out; without the permissions `ip netns` needs, the drop path
# is left out; each with one line saying so.
#
# Needs: bash, python3 (the summary), cargo (unless URING_BIN names a built `uring`);
# for liburing: gcc and a liburing source (see bench/liburing_example.sh); for the drop
# path: root (ip netns). The raw loop runs with `uring bench`'s defaults (its ring line in
# the JSON says which); RAW_OPTS adds options to every raw job (e.g. "--taskrun coop").
# Usage: bench/suite.sh [-r ROUNDS] [-t SECONDS] [-n INFLIGHT] [-L "SIZES"] [-D "SIZES"]
#                       [-x] [-p] [-c] [-k]
#   -r rounds (default 5), -t seconds per cell (default 2), -n requests per batch (8)
#   -L loopback sizes (default "1400 4096 16384 65536 262144")
#   -D drop-path sizes (default "1400 4000 16000 65000")
#   -x leave liburing out;  -p nice -19 (root);  -c sender on CPU 0, sink on CPU 1
#   -k keep every output in the temporary directory
# Quick smoke run: bench/suite.sh -t 0.2 -r 1
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5 secs=2 inflight=8 keep=0 no_liburing=0 nice=() pin_tx=() pin_rx=()
loop_sizes="1400 4096 16384 65536 262144"
drop_sizes="1400 4000 16000 65000"
args=("$@")
while getopts "r:t:n:L:D:xpck" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    t) secs=$OPTARG ;;
    n) inflight=$OPTARG ;;
    L) loop_sizes=$OPTARG ;;
    D) drop_sizes=$OPTARG ;;
    x) no_liburing=1 ;;
    p) nice=(nice -n -19) ;;
    c) pin_tx=(taskset -c 0) pin_rx=(taskset -c 1) ;;
    k) keep=1 ;;
    *) sed -n '2,46p' "$0"; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "-r: a positive count" >&2; exit 2; }
[[ $secs =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "-t: seconds" >&2; exit 2; }
command -v python3 >/dev/null || { echo "missing python3 (the summary)" >&2; exit 1; }
csv() { tr -s ' ' ',' <<<"$1" | sed 's/^,//; s/,$//'; }

# --- the binary (built once, outside the namespace) --------------------------------------
if [[ -z ${URING_BIN:-} ]]; then
  command -v cargo >/dev/null || { echo "missing cargo (or set URING_BIN)" >&2; exit 1; }
  cargo build --quiet --release -p uring-cli
  metadata=$(cargo metadata --format-version 1 --no-deps)
  target_dir=$(sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p' <<<"$metadata")
  export URING_BIN=$target_dir/release/uring
fi
[[ -x $URING_BIN ]] || { echo "not an executable: $URING_BIN" >&2; exit 1; }

# --- into the drop-path namespace, once, for the whole run -------------------------------
# Loopback works there as anywhere (lo is up); the drop-path jobs need the namespace.
if [[ -z ${URING_DROP_DEST:-} && -z ${URING_SUITE_NO_DROP:-} ]]; then
  if scripts/drop_path.sh -- true >/dev/null 2>&1; then
    exec scripts/drop_path.sh -- "$0" "${args[@]}"
  fi
  echo "left out: the drop path (scripts/drop_path.sh needs root for ip netns)"
  export URING_SUITE_NO_DROP=1
fi
drop=0
[[ -n ${URING_DROP_DEST:-} ]] && drop=1

tmp=$(mktemp -d)
sink_pid=
cleanup() {
  if [[ -n $sink_pid ]]; then kill "$sink_pid" 2>/dev/null || true; fi
  if ((keep)); then echo "outputs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- liburing's example ------------------------------------------------------------------
# bench/liburing_example.sh: liburing 2.15's (LIBURING_SRC, or a clone of its tag), else
# Debian's liburing-dev (2.3).
liburing=0 liburing_version=
if ((no_liburing)); then
  echo "left out: liburing (-x)"
elif built=$(bench/liburing_example.sh "$tmp/liburing" 2>"$tmp/liburing.err"); then
  liburing=1
  liburing_bin=$(head -n1 <<<"$built")
  liburing_version=$(sed -n 2p <<<"$built")
else
  echo "left out: liburing ($(tail -n1 "$tmp/liburing.err"))"
fi
lib_t=$(awk -v s="$secs" 'BEGIN { t = int(s + 0.5); if (t < 1) t = 1; print t }')
lib_secs=$(awk -v t="$lib_t" 'BEGIN { print t + 0.2 }')

# --- the sink of job 3 -------------------------------------------------------------------
port=
if ((liburing)); then
  "${nice[@]}" "${pin_rx[@]}" "$URING_BIN" bench --listen 127.0.0.1:0 >"$tmp/sink.out" 2>"$tmp/sink.err" &
  sink_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/sink.out" | head -n1)
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "the sink did not start:" >&2; cat "$tmp/sink.err" >&2; exit 1; }
fi

# --- jobs --------------------------------------------------------------------------------
bench=("$URING_BIN" bench --duration "$secs" --inflight "$inflight" --json)
read -r -a raw_opts <<<"${RAW_OPTS:-}"
jobs=(loop-raw loop-safe)
((drop)) && jobs+=(drop-raw drop-safe)
if ((liburing)); then
  jobs+=(sink-raw sink-liburing)
  if ((drop)); then for s in $drop_sizes; do jobs+=("drop-liburing-$s"); done; fi
fi
# A list (words) rotated left by N: within a job, `uring bench` measures its cells in a
# fixed order (every size of the first mode, then of the next...); rotating the modes and
# the sizes from round to round keeps any one cell from always running first or last
# (after the same neighbour) in its process.
rot() { # N WORDS...
  local n=$1; shift
  local a=("$@") k=${#a[@]} i out=()
  for ((i = 0; i < k; i++)); do out+=("${a[$(((i + n) % k))]}"); done
  csv "${out[*]}"
}
job_cmd() { # job round -> cmd (array)
  local dest=${URING_DROP_DEST:-} r=$2
  local loop_s drop_s
  loop_s=$(rot "$r" $loop_sizes)
  drop_s=$(rot "$r" $drop_sizes)
  case $1 in
    loop-raw) cmd=("${bench[@]}" "${raw_opts[@]}" --api raw --fixed-file --mode "$(rot "$r" send zc zc-fixed)" --size "$loop_s") ;;
    loop-safe) cmd=("${bench[@]}" --api safe --mode "$(rot "$r" send zc zc-fixed auto)" --size "$loop_s") ;;
    drop-raw) cmd=("${bench[@]}" "${raw_opts[@]}" --udp --to "$dest:9" --api raw --fixed-file --mode "$(rot "$r" send zc-fixed)" --size "$drop_s") ;;
    drop-safe) cmd=("${bench[@]}" --udp --to "$dest:9" --api safe --mode "$(rot "$r" send zc-fixed auto)" --size "$drop_s") ;;
    sink-raw) cmd=("${bench[@]}" "${raw_opts[@]}" --to "127.0.0.1:$port" --api raw --fixed-file --mode zc-fixed --size 65000) ;;
    sink-liburing) cmd=("$liburing_bin" -4 -D 127.0.0.1 -p "$port" -t "$lib_t" -z 1 -s 65000 -n "$inflight" tcp) ;;
    drop-liburing-*) cmd=("$liburing_bin" -4 -D "$dest" -p 9 -t "$lib_t" -z 1 -s "${1##*-}" -n "$inflight" udp) ;;
  esac
}

echo "suite: ${secs}s per cell, $rounds rounds, inflight $inflight; loopback sizes $loop_sizes$( ((drop)) && echo "; drop-path sizes $drop_sizes")${nice:+; nice -19}${pin_tx:+; sender on CPU 0, sink on CPU 1}"
echo "kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)$( ((liburing)) && echo ", $liburing_version, its runs ${lib_secs}s")"
n=${#jobs[@]}
for ((r = 0; r < rounds; r++)); do
  started=$SECONDS
  for ((k = 0; k < n; k++)); do
    job=${jobs[$(((k + r) % n))]}
    job_cmd "$job" "$r"
    out="$tmp/$job.$r"
    "${nice[@]}" "${pin_tx[@]}" "${cmd[@]}" >"$out" 2>"$out.err" \
      || { echo "job $job failed: ${cmd[*]}" >&2; tail -n5 "$out" "$out.err" >&2; exit 1; }
  done
  echo "round $((r + 1)) of $rounds: $n jobs in $((SECONDS - started)) s"
done

# --- summary -----------------------------------------------------------------------------
python3 - "$tmp" "$rounds" "$lib_secs" "${jobs[@]}" <<'EOF'
import functools, json, re, statistics, sys

tmp, rounds, lib_secs, jobs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]

@functools.lru_cache(maxsize=None)
def cells(job, field="mb_per_s"):
    """[(round, {(mode, size): field})] of one `uring bench --json` job (each job's
    outputs are read once per field, however many lines use them; callers never modify
    the result)."""
    out = []
    for r in range(rounds):
        with open(f"{tmp}/{job}.{r}") as f:
            v = json.load(f)
        out.append({(c["mode"], c["size"]): c.get(field) for c in v["results"]})
    return out

def liburing(job):
    rates = []
    for r in range(rounds):
        # 2.3's example reports "tx=N (MB=M)" on stderr (M MiB over lib_secs); 2.15's
        # "packets=N (MB=M), rps=R (MB/s=X)" on stdout, X MiB/s over the time it ran.
        text = open(f"{tmp}/{job}.{r}").read() + open(f"{tmp}/{job}.{r}.err").read()
        m = re.search(r"packets=\d+ \(MB=\d+\), rps=\d+ \(MB/s=(\d+)\)", text)
        if m:
            rates.append(int(m.group(1)) * 1.048576)
            continue
        m = re.search(r"tx=\d+ \(MB=(\d+)\)", text)
        if not m:
            sys.exit(f"no MB= total in the output of {job}: {text[-300:]}")
        rates.append(int(m.group(1)) * 1.048576 / lib_secs)
    return rates

med = statistics.median

def line(label, a, b, target, note=""):
    """a, b: per-round rates; prints the ratio of medians and the median per-round ratio."""
    ma, mb = med(a), med(b)
    per = med(x / y for x, y in zip(a, b) if y > 0) if any(y > 0 for y in b) else float("nan")
    ratio = ma / mb if mb > 0 else float("nan")
    mark = "" if ratio >= target else "  (below)"
    print(f"  {label:<34} {ma:10.1f} {mb:10.1f} {ratio:7.3f} {per:9.3f}   >= {target}{mark}{note}")

def header(title, a, b):
    print(f"\n{title}")
    print(f"  {'':<34} {a:>10} {b:>10} {'ratio':>7} {'per-round':>9}   target")

def size_key(cells_):
    return sorted({s for rnd in cells_ for (_, s) in rnd})

def series(cells_, mode, size):
    return [rnd[(mode, size)] for rnd in cells_]

def better(cells_, modes, size):
    """(mode, per-round rates) of the mode with the higher median at this size. The better
    mode is a property of the path and size, so it is chosen once, over the whole run: a
    per-round maximum of two noisy rates would be biased upwards by the noise itself (it
    keeps each round's luckier draw), against an `auto` that is measured once per round."""
    m = max(modes, key=lambda m: med(series(cells_, m, size)))
    return m, series(cells_, m, size)

def compare(raw, safe, modes, where, safe_job):
    header(f"safe layer / raw loop, {where} (MB/s, medians)", "safe", "raw")
    for size in size_key(raw):
        for m in modes:
            line(f"{m} {size} B", series(safe, m, size), series(raw, m, size), 0.97)
    header(f"auto / the better of safe send and safe zc-fixed, {where}", "auto", "better")
    shares = cells(safe_job, "zero_copy_share")
    paths = cells(safe_job, "adaptive_path")
    for size in size_key(safe):
        share = [s for s in series(shares, "auto", size) if s is not None]
        note = f"  [zero-copy {med(share) * 100:.0f}% of buffers" if share else "  ["
        note += f", ends {series(paths, 'auto', size)[-1]}]"
        mode, rates = better(safe, ["send", "zc-fixed"], size)
        line(f"auto {size} B (vs {mode})", series(safe, "auto", size), rates, 0.95, note)

if "loop-raw" in jobs:
    compare(cells("loop-raw"), cells("loop-safe"), ["send", "zc", "zc-fixed"], "TCP loopback", "loop-safe")
if "drop-raw" in jobs:
    compare(cells("drop-raw"), cells("drop-safe"), ["send", "zc-fixed"], "UDP drop path", "drop-safe")
    # On the drop path the sender is the bottleneck (nothing receives), so its CPU time per
    # buffer is the rate's inverse: what user space adds to the kernel's part decides the
    # ratio. "expected" is the safe / raw ratio if the kernel's part were the raw loop's
    # and only the user-space part differed.
    print("\nsender CPU per buffer on the UDP drop path (ns, medians; user space part in brackets)")
    print(f"  {'':<34} {'safe':>16} {'raw':>16} {'expected':>9}")
    def per_buffer(job, field, mode, size):
        return med([v * size for v in series(cells(job, field), mode, size) if v is not None] or [float("nan")])
    for size in size_key(cells("drop-raw")):
        for m in ["send", "zc-fixed"]:
            sc, su = (per_buffer("drop-safe", f, m, size) for f in ("sender_cpu_s_per_gb", "sender_user_s_per_gb"))
            rc, ru = (per_buffer("drop-raw", f, m, size) for f in ("sender_cpu_s_per_gb", "sender_user_s_per_gb"))
            expected = rc / (rc - ru + su) if rc - ru + su > 0 else float("nan")
            print(f"  {m + ' ' + str(size) + ' B':<34} {sc:7.0f} ({su:5.0f}) {rc:7.0f} ({ru:5.0f}) {expected:9.3f}")
lib = [j for j in jobs if j.startswith("drop-liburing-")]
if lib or "sink-raw" in jobs:
    header("raw zc-fixed / liburing's send-zerocopy (-z 1)", "raw", "liburing")
    if "sink-raw" in jobs:
        ours = [rnd[("zc-fixed", 65000)] for rnd in cells("sink-raw")]
        line("TCP loopback sink 65000 B", ours, liburing("sink-liburing"), 1.25)
    if lib:
        raw = cells("drop-raw")
        for j in lib:
            size = int(j.rsplit("-", 1)[1])
            line(f"UDP drop path {size} B", series(raw, "zc-fixed", size), liburing(j), 1.0)
EOF
