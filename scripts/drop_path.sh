#!/usr/bin/env bash
# The "drop path": a network namespace of our own where zero-copy sends are not copied.
#
# On loopback and through a working veth pair, the kernel copies zero-copy payloads when
# it delivers them locally (REPORT_USAGE says IORING_NOTIF_USAGE_ZC_COPIED), so zero-copy
# cannot pay there. Here the datagrams leave through a veth end whose peer is DOWN: the
# device has no carrier and drops every frame, which releases the pinned pages without a
# copy, as a NIC does once it has sent them. What remains is the sender's own cost.
#
#   namespace uring-drop-PID:  lo up   (PID, or $URING_DROP_TAG)
#     veth urdPID  198.18.2.1/24, up, MTU 65535 (a 65000-byte datagram is one frame, so
#                  UDP takes the zero-copy path: it needs the payload within the MTU)
#     veth urdpPID the peer end, MTU 65535, left DOWN
#     neighbour    198.18.2.2 -> 02:00:00:00:00:02 permanent (no ARP, nothing held back)
#
# Usage: scripts/drop_path.sh [--] COMMAND [ARGS...]
#   runs COMMAND inside the namespace, with URING_DROP_DEST=198.18.2.2 and
#   URING_DROP_DEV=<the veth end> in its environment; exits with COMMAND's status.
#   Example: scripts/drop_path.sh -- uring bench --udp --to 198.18.2.2:9 --mode send,zc-fixed
# Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) for `ip netns`. Everything it creates is
# removed on exit (trap), whatever happens.
#
# Addresses come from 198.18.0.0/15, the range reserved for network benchmarks (RFC 2544),
# and exist only inside the namespace: nothing leaves this machine.
set -euo pipefail

if [[ "${1:-}" == "--" ]]; then shift; fi
if (($# == 0)); then
  echo "usage: $0 [--] COMMAND [ARGS...]   (runs COMMAND inside the drop-path namespace)" >&2
  exit 2
fi

LOCAL=198.18.2.1
DEST=198.18.2.2
DEST_MAC=02:00:00:00:00:02
MTU=65535
# URING_DROP_TAG (at most 11 letters or digits) names the namespace instead of the PID, so
# that a caller can tell its own namespace from those of concurrent runs.
tag="${URING_DROP_TAG:-$$}"
if [[ ! "$tag" =~ ^[A-Za-z0-9]{1,11}$ ]]; then
  echo "URING_DROP_TAG must be 1 to 11 letters or digits" >&2
  exit 2
fi
NS="uring-drop-$tag"
DEV="urd$tag"
PEER="urdp$tag"
DEV=${DEV:0:15}
PEER=${PEER:0:15}

cleanup() {
  # Deleting the namespace deletes both veth ends inside it.
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add "$DEV" mtu "$MTU" type veth peer name "$PEER" mtu "$MTU"
ip -n "$NS" addr add "$LOCAL/24" dev "$DEV"
ip -n "$NS" link set "$DEV" up
# "$PEER" stays down: "$DEV" has no carrier, and its frames are dropped.
ip -n "$NS" neigh replace "$DEST" lladdr "$DEST_MAC" dev "$DEV" nud permanent

status=0
URING_DROP_DEST="$DEST" URING_DROP_DEV="$DEV" ip netns exec "$NS" "$@" || status=$?
exit "$status"
