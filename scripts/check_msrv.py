#!/usr/bin/env python3
"""Fails if any package in the workspace's dependency graph declares a `rust-version`
newer than the workspace's own (its MSRV).

Walks the resolved graph from every workspace member through normal, dev and build
dependencies, for every target platform (as the lock file holds them), using
`cargo metadata --format-version 1 --locked` (so a lock file that needs updating fails too).
"""

import json
import subprocess
import sys


def version(text):
    """'1.80' or '1.80.1' -> (1, 80, 1); missing parts are 0."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    meta = json.loads(out)
    packages = {p["id"]: p for p in meta["packages"]}
    members = meta["workspace_members"]

    msrvs = {packages[m]["rust_version"] for m in members}
    if None in msrvs:
        missing = [packages[m]["name"] for m in members if not packages[m]["rust_version"]]
        sys.exit(f"check_msrv: workspace members without rust-version: {', '.join(missing)}")
    msrv = min(msrvs, key=version)

    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    seen = set()
    todo = list(members)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        todo.extend(d["pkg"] for d in nodes[pkg]["deps"])

    too_new = sorted(
        (packages[p]["name"], packages[p]["version"], packages[p]["rust_version"])
        for p in seen
        if packages[p]["rust_version"]
        and version(packages[p]["rust_version"]) > version(msrv)
    )
    for name, ver, rv in too_new:
        print(f"check_msrv: {name} {ver} needs Rust {rv}, newer than our MSRV {msrv}")
    if too_new:
        print(
            "check_msrv: .cargo/config.toml resolves to MSRV-compatible versions: "
            "run `cargo update` (or pin the package) and commit Cargo.lock"
        )
        sys.exit(1)
    print(f"check_msrv: all {len(seen)} packages in the graph build with Rust {msrv}")


if __name__ == "__main__":
    main()
