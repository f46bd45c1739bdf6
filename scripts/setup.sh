#!/usr/bin/env bash
# Installs what the tests and .ci/run need, and only what is missing, on a fresh machine of
# this project's kind (Debian, root):
#   socat     the interop tests of `uring send` / `uring recv` (uring-cli/tests/transfer.rs)
#   iproute2  `ip netns` for scripts/two_hosts.sh (uring-cli/tests/two_hosts.rs)
#   python3   scripts/check_msrv.py (.ci/run)
#   util-linux  setpriv and prlimit: the safe layer's suites as a process without
#             CAP_IPC_LOCK under an 8 MiB memlock limit (scripts/test-unprivileged.sh,
#             uring/tests/memlock.rs)
#   clang, libclang-dev, make, gcc  the liburing comparison (liburing-compare/): its
#             axboe-liburing dependency builds liburing's C library (make, a C compiler)
#             and runs bindgen, which loads libclang and clang's own headers
#   rustfmt, clippy  the toolchain components .ci/run uses (through rustup, if it manages
#             the toolchain)
# Nothing missing: installs nothing and touches no network.
set -euo pipefail

need_apt=()
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
{ command -v setpriv && command -v prlimit; } >/dev/null 2>&1 || need_apt+=(util-linux)
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
# libclang-dev puts libclang.so where bindgen (clang-sys) looks: /usr/lib/llvm-N/lib.
{ command -v clang && compgen -G '/usr/lib/llvm-*/lib/libclang.so*'; } >/dev/null 2>&1 ||
  need_apt+=(clang libclang-dev)

if ((${#need_apt[@]})); then
  echo "== setup: installing ${need_apt[*]} (apt-get)"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "setup: ${need_apt[*]} missing; install them (as root: apt-get install ${need_apt[*]})" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  log=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -q && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" \
    apt-get install -y -q --no-install-recommends "${need_apt[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "setup: could not install ${need_apt[*]}" >&2
    exit 1
  fi
  rm -f "$log"
fi

for component in rustfmt clippy; do
  sub=${component/rustfmt/fmt}
  cargo "$sub" --version >/dev/null 2>&1 && continue
  echo "== setup: installing the $component component (rustup)"
  rustup component add "$component"
done
