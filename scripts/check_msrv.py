#!/usr/bin/env python3
"""Fails if any package in a workspace member's dependency graph declares a `rust-version`
newer than that member's own (its MSRV).

The library and the cli share the workspace's rust-version (the project's MSRV); a
test-only member may declare a newer one (liburing-compare: its liburing dependency is
edition 2024), and its graph is held to that. The lock file is one for all members, and
.cargo/config.toml's fallback resolver picks versions for the lowest rust-version among
them, so a package shared with the library stays at the library's MSRV either way.

Walks the resolved graph from each workspace member through normal, dev and build
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


def reachable(nodes, root):
    """The ids of every package in root's graph, root included."""
    seen = set()
    todo = [root]
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        todo.extend(d["pkg"] for d in nodes[pkg]["deps"])
    return seen


def main():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    meta = json.loads(out)
    packages = {p["id"]: p for p in meta["packages"]}
    members = meta["workspace_members"]

    missing = [packages[m]["name"] for m in members if not packages[m]["rust_version"]]
    if missing:
        sys.exit(f"check_msrv: workspace members without rust-version: {', '.join(missing)}")

    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    too_new = set()
    summary = []
    for member in members:
        msrv = packages[member]["rust_version"]
        seen = reachable(nodes, member)
        summary.append(f"{packages[member]['name']} ({len(seen)} packages, Rust {msrv})")
        for p in seen:
            rv = packages[p]["rust_version"]
            if rv and version(rv) > version(msrv):
                too_new.add((packages[p]["name"], packages[p]["version"], rv, msrv))
    for name, ver, rv, msrv in sorted(too_new):
        print(
            f"check_msrv: {name} {ver} needs Rust {rv}, "
            f"newer than the MSRV {msrv} of a member using it"
        )
    if too_new:
        print(
            "check_msrv: .cargo/config.toml resolves to MSRV-compatible versions: "
            "run `cargo update` (or pin the package) and commit Cargo.lock"
        )
        sys.exit(1)
    print(
        "check_msrv: every package in each member's graph builds with its MSRV: "
        + "; ".join(summary)
    )


if __name__ == "__main__":
    main()
