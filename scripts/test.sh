#!/usr/bin/env bash
# THE test command (the README's, and .ci/run's): installs what the tests need if it is
# missing (scripts/setup.sh: socat, iproute2, ...), then runs every test of the workspace
# against the live kernel. Extra arguments go to `cargo test`, e.g.
#   scripts/test.sh -p uring-zc --test zero_copy
# Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) for the network namespaces of
# uring-cli/tests/two_hosts.rs, and for installing packages when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo test --workspace --all-features "$@"
