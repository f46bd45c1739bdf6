#!/usr/bin/env python3
"""The library's module import graph must have no cycle.

Reads uring/src, takes every `crate::` and `super::` path outside comments and test
modules (grouped `use` lists included), and builds two graphs: one between the crate's
top-level modules (a submodule counts as its parent), one between the children of each
module that has them (zc's). Prints each graph, in the order a reader meets them (the ABI
up), and fails naming the cycle if a graph has one. Run by .ci/run; an argument names
another source folder."""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else (
    pathlib.Path(__file__).resolve().parent.parent / "uring" / "src")


def module_of(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("lib", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def code_of(text):
    """The file without comments and without its trailing `#[cfg(test)] mod`."""
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod \w+\s*\{", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"//.*", "", line) for line in text.splitlines())


def test_only_children(text):
    """Children declared under `#[cfg(test)]`, by module name or by `#[path]` file stem."""
    names = set(re.findall(r"#\[cfg\(test\)\]\s*\n\s*(?:pub(?:\([^)]*\))?\s+)?mod (\w+);", text))
    names |= set(re.findall(r'#\[cfg\(test\)\]\s*\n\s*#\[path = "(\w+)\.rs"\]', text))
    return names


def group_heads(s, i):
    """Given s[i] == '{', the first identifier of each item of the group, and its end."""
    depth, item, heads = 0, "", []
    for j in range(i, len(s)):
        c = s[j]
        if c == "{":
            depth += 1
            if depth == 1:
                continue
        elif c == "}":
            depth -= 1
            if depth == 0:
                heads.append(item)
                return [re.match(r"\s*(\w*)", h).group(1) for h in heads if h.strip()], j
        if depth == 1 and c == ",":
            heads.append(item)
            item = ""
        elif depth >= 1:
            item += c
    return [], len(s)


def references(module, code):
    """Absolute module paths (tuples) that `code` in `module` names."""
    out = []
    for m in re.finditer(r"\b(crate|super)::", code):
        base = () if m.group(1) == "crate" else module[:-1]
        rest = code[m.end():]
        # super::super::x
        while rest.startswith("super::"):
            base = base[:-1]
            rest = rest[len("super::"):]
        if rest.startswith("{"):
            heads, _ = group_heads(rest, 0)
            out += [base + (h,) for h in heads if h and h != "self"]
        else:
            ident = re.match(r"(\w+)", rest)
            if ident:
                out.append(base + (ident.group(1),))
    return out


def find_cycle(nodes, edges):
    state = {n: 0 for n in nodes}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(edges.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if state.get(d) == 0:
                c = visit(d)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(nodes):
        if state[n] == 0:
            c = visit(n)
            if c:
                return c
    return None


def topo(nodes, edges):
    order, done = [], set()

    def visit(n):
        if n in done:
            return
        done.add(n)
        for d in sorted(edges.get(n, ())):
            visit(d)
        order.append(n)

    for n in sorted(nodes):
        visit(n)
    return order


def main():
    files = sorted(ROOT.rglob("*.rs"))
    modules = {module_of(f): f for f in files}
    skip = set()
    for mod, f in modules.items():
        for child in test_only_children(f.read_text()):
            # A `#[path]` file sits beside the declaring file: a sibling of `mod`
            # unless `mod` is a directory's mod.rs or the crate root.
            skip.add(mod + (child,))
            skip.add(mod[:-1] + (child,))
    graphs = {}  # parent module -> (children, edges)
    for mod, f in modules.items():
        if mod in skip or not mod:
            continue
        for ref in references(mod, code_of(f.read_text())):
            # The longest known module prefix of the reference is what it names.
            target = max((ref[:k] for k in range(1, len(ref) + 1) if ref[:k] in modules),
                         key=len, default=None)
            if target is None or target in skip:
                continue
            # Compare at the first level where the two paths part.
            k = 0
            while k < min(len(mod), len(target)) and mod[k] == target[k]:
                k += 1
            if k == len(mod) or k == len(target):
                continue  # a module and its own ancestor or descendant
            parent = mod[:k]
            a, b = mod[k], target[k]
            children, edges = graphs.setdefault(parent, (set(), {}))
            children.update((a, b))
            edges.setdefault(a, set()).add(b)
    failed = False
    for parent in sorted(graphs):
        children, edges = graphs[parent]
        name = "::".join(("crate",) + parent)
        for m in modules:
            if len(m) == len(parent) + 1 and m[:-1] == parent and m not in skip:
                children.add(m[-1])
        cycle = find_cycle(children, edges)
        if cycle:
            print(f"check_modules: {name}: cycle {' -> '.join(cycle)}")
            failed = True
        else:
            print(f"check_modules: {name}: acyclic, from the bottom: {' < '.join(topo(children, edges))}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
