#!/usr/bin/env bash
# The safe layer's suites again (and the raw zero-copy matrix, whose registered buffers
# are sized for it), as a normal user would run them: a process without
# CAP_IPC_LOCK (dropped from the bounding and inheritable sets, so no child has it) under
# an 8 MiB RLIMIT_MEMLOCK, where registered pools and the pages of zero-copy sends are
# charged to the limit. Run by .ci/run after the README's test command; needs root (to
# drop a capability it has) and util-linux's setpriv and prlimit (scripts/setup.sh).
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
suites=(soundness memlock hostile_zc_safe hostile_hygiene hostile_soak_safe zc_stream
  zc_datagram zc_shared_ring zc_unix zc_tokio zc_vectored send_zc_matrix)
args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
limit=$((8 << 20))
echo "== safe-layer suites without CAP_IPC_LOCK, RLIMIT_MEMLOCK $limit bytes"
# One test at a time: the limit is per user, so parallel tests would share it.
URING_SOAK_SAFE_SECS=${URING_SOAK_SAFE_SECS:-10} exec setpriv --bounding-set=-ipc_lock \
  --inh-caps=-ipc_lock prlimit --memlock="$limit:$limit" -- \
  cargo test -p uring-zc --all-features --no-fail-fast "${args[@]}" "$@" -- --test-threads=1
