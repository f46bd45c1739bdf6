#!/usr/bin/env bash
# Builds liburing's own examples/send-zerocopy.c into DIR, for bench/compare.sh and
# bench/suite.sh; never copies it into this repository.
#
# Which liburing, first found:
#   1. LIBURING_SRC: a liburing source tree (e.g. `git clone --branch liburing-2.15
#      https://github.com/axboe/liburing`): copied into DIR, its src/liburing.a built
#      (./configure && make -C src), and the example linked against it statically.
#   2. LIBURING_GIT (default https://github.com/axboe/liburing) at tag LIBURING_TAG
#      (default liburing-2.15): cloned into DIR (depth 1, 60 s at most), then as in 1.
#      Set LIBURING_GIT= (empty) to skip this step offline.
#   3. Debian's liburing-dev: /usr/share/doc/liburing-dev/examples/send-zerocopy.c with
#      the installed -luring (on Debian 12, liburing 2.3, whose example differs: see
#      bench/RESULTS.md, section 11).
#
# Prints two lines on stdout: the binary's path, then "liburing VERSION (FROM)". Exits 1
# with the reason on stderr if none can be built.
#
# The two example versions report differently, and the callers parse both:
#   2.3:  stderr "tx=N (MB=M), tx/s=... (MB/s=...)", MB = bytes >> 20 over -t + 0.2 s
#         (it runs 0.2 s longer than -t and divides by -t);
#   2.15: stdout "packets=N (MB=M), rps=... (MB/s=R)", R = (bytes >> 20) per second of
#         the time it actually ran (measured; also -t + 0.2 s).
set -euo pipefail

dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
tag=${LIBURING_TAG:-liburing-2.15}
git_url=${LIBURING_GIT-https://github.com/axboe/liburing}

build_tree() { # tree -> binary, or fail
  local tree=$1
  [[ -e $tree/examples/send-zerocopy.c && -e $tree/configure ]] || {
    echo "not a liburing source tree: $tree" >&2
    return 1
  }
  (cd "$tree" && ./configure >/dev/null 2>&1 && make -s -C src >/dev/null 2>&1) || {
    echo "liburing does not build in $tree" >&2
    return 1
  }
  gcc -O2 -D_GNU_SOURCE -I"$tree/src/include" -o "$dir/send-zerocopy" \
    "$tree/examples/send-zerocopy.c" "$tree/src/liburing.a" -lpthread
}

version_of() { # tree -> version from its liburing.spec
  sed -n 's/^Version:[[:space:]]*//p' "$1/liburing.spec" 2>/dev/null | head -n1
}

command -v gcc >/dev/null || { echo "missing gcc" >&2; exit 1; }

if [[ -n ${LIBURING_SRC:-} ]]; then
  rm -rf "$dir/liburing"
  cp -r "$LIBURING_SRC" "$dir/liburing"
  build_tree "$dir/liburing"
  echo "$dir/send-zerocopy"
  echo "liburing $(version_of "$dir/liburing") (LIBURING_SRC)"
  exit 0
fi

if [[ -n $git_url ]] && command -v git >/dev/null \
  && timeout 60 git clone -q --depth 1 --branch "$tag" "$git_url" "$dir/liburing" 2>/dev/null \
  && build_tree "$dir/liburing"; then
  echo "$dir/send-zerocopy"
  echo "liburing $(version_of "$dir/liburing") ($tag)"
  exit 0
fi

example_src=/usr/share/doc/liburing-dev/examples/send-zerocopy.c
if [[ -e $example_src ]]; then
  cp "$example_src" "$dir/send-zerocopy.c"
elif [[ -e $example_src.gz ]]; then
  zcat "$example_src.gz" >"$dir/send-zerocopy.c"
else
  echo "no liburing source (set LIBURING_SRC, allow the clone, or apt-get install liburing-dev)" >&2
  exit 1
fi
gcc -O2 -o "$dir/send-zerocopy" "$dir/send-zerocopy.c" -luring 2>"$dir/gcc.err" || {
  echo "the example does not build: $(tail -n1 "$dir/gcc.err")" >&2
  exit 1
}
echo "$dir/send-zerocopy"
echo "liburing $(dpkg-query -W -f '${Version}' liburing-dev 2>/dev/null || echo '?') (liburing-dev)"
