#!/usr/bin/env bash
# Two "hosts" on one machine: two network namespaces joined by a veth pair. Runs
# `uring bench --listen` in one and `uring bench --to` from the other, prints both results,
# and removes everything it created on exit (trap), whatever happens. Exits 0 only when the
# transfer really happened: the sink counted as many bytes as the sender sent, and more than
# zero (the last line then says `== transfer verified: N bytes ...`).
#
# The same two commands run across two real machines:
#   hostA$ uring bench --listen 9000 --once
#   hostB$ uring bench --to hostA:9000 --mode zc-fixed --size 65000 --inflight 8 --duration 3
#
# Usage: scripts/two_hosts.sh [extra `uring bench --to` options...]
#   URING_BIN   the uring binary (default: build target/release/uring with cargo)
#   URING_DURATION          seconds of sending (default 3)
#   URING_MODE, URING_SIZE  sender mode and payload size (default zc-fixed, 65000)
#   URING_PORT              the sink's port inside host A (default 9000)
# Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) for `ip netns`.
#
# Addresses come from 198.18.0.0/15, the range reserved for network benchmarks (RFC 2544),
# and exist only inside the two namespaces: nothing leaves this machine.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${URING_DURATION:-3}
MODE=${URING_MODE:-zc-fixed}
SIZE=${URING_SIZE:-65000}
PORT=${URING_PORT:-9000}
ADDR_A=198.18.0.1
ADDR_B=198.18.0.2
tag="$$"
NS_A="uring-a-$tag"
NS_B="uring-b-$tag"
VETH_A="urva$tag"
VETH_B="urvb$tag"
VETH_A=${VETH_A:0:15}
VETH_B=${VETH_B:0:15}

if [[ -z "${URING_BIN:-}" ]]; then
  cargo build --release -q -p uring-cli
  URING_BIN="$PWD/target/release/uring"
fi
[[ -x "$URING_BIN" ]] || { echo "two_hosts: no executable at $URING_BIN" >&2; exit 1; }

listener_pid=""
out_dir=$(mktemp -d)
cleanup() {
  if [[ -n "$listener_pid" ]]; then kill "$listener_pid" 2>/dev/null || true; fi
  ip netns del "$NS_A" 2>/dev/null || true   # deleting a namespace deletes its veth end,
  ip netns del "$NS_B" 2>/dev/null || true   # and with it the pair
  rm -rf "$out_dir"
}
trap cleanup EXIT INT TERM

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add "$VETH_A" type veth peer name "$VETH_B"
ip link set "$VETH_A" netns "$NS_A"
ip link set "$VETH_B" netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/30" dev "$VETH_A"
ip -n "$NS_B" addr add "$ADDR_B/30" dev "$VETH_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set "$VETH_A" up
ip -n "$NS_B" link set "$VETH_B" up

echo "== host A ($NS_A, $ADDR_A): uring bench --listen $ADDR_A:$PORT --once"
ip netns exec "$NS_A" "$URING_BIN" bench --listen "$ADDR_A:$PORT" --once >"$out_dir/listen.out" 2>&1 &
listener_pid=$!
# Wait (bounded) until the sink listens.
for _ in $(seq 1 100); do
  grep -q '^listening on' "$out_dir/listen.out" 2>/dev/null && break
  kill -0 "$listener_pid" 2>/dev/null || break
  sleep 0.05
done
grep -q '^listening on' "$out_dir/listen.out" || { cat "$out_dir/listen.out" >&2; echo "two_hosts: the sink did not start" >&2; exit 1; }

echo "== host B ($NS_B, $ADDR_B): uring bench --to $ADDR_A:$PORT --mode $MODE --size $SIZE --duration $DURATION $*"
ip netns exec "$NS_B" "$URING_BIN" bench --to "$ADDR_A:$PORT" --mode "$MODE" --size "$SIZE" \
  --duration "$DURATION" "$@" | tee "$out_dir/send.out"

# The sink exits after its one connection; bounded wait.
for _ in $(seq 1 200); do
  kill -0 "$listener_pid" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$listener_pid" 2>/dev/null; then
  echo "two_hosts: the sink did not finish" >&2
  exit 1
fi
status=0
wait "$listener_pid" || status=$?
listener_pid=""
echo "== host A result"
cat "$out_dir/listen.out"
[[ $status -eq 0 ]] || { echo "two_hosts: the sink failed (exit $status)" >&2; exit "$status"; }

# The transfer happened: each side reports one byte count, the two agree, and are not zero.
# Sender: "to ADDR:PORT ...: X MB/s, N bytes in T s, ..."; sink: "conn 1 from ...: N bytes in ...".
sent=$(sed -n "s/^to $ADDR_A:$PORT .*, \([0-9][0-9]*\) bytes in .*/\1/p" "$out_dir/send.out")
received=$(sed -n 's/^conn 1 from [^ ]*: \([0-9][0-9]*\) bytes in .*/\1/p' "$out_dir/listen.out")
[[ -n "$sent" ]] || { echo "two_hosts: no byte count from the sender" >&2; exit 1; }
[[ -n "$received" ]] || { echo "two_hosts: no byte count from the sink" >&2; exit 1; }
if [[ "$sent" != "$received" ]]; then
  echo "two_hosts: the sender sent $sent bytes, the sink received $received" >&2
  exit 1
fi
if ((sent == 0)); then
  echo "two_hosts: nothing was transferred (0 bytes)" >&2
  exit 1
fi
echo "== transfer verified: $sent bytes from $NS_B to $NS_A"
