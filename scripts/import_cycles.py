"""Import cycles between the crate's top-level modules (issue 22).

Reads every `use crate::...` and `crate::...::` path in src/, maps each file
to its top-level module (src/http.rs -> http, src/admission/jwt.rs ->
admission) and each path to the top-level module it names, and prints every
cycle in that graph: a module that reaches itself through the modules it
imports. Exits 1 when there is one, so that CI can run it once the layout
has none; until then it is the list of what the layering must break.

Usage: python3 scripts/import_cycles.py [SRC_DIR]
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def top_module(src: Path, file: Path) -> str:
    parts = file.relative_to(src).parts
    if len(parts) == 1:
        return parts[0].removesuffix(".rs")
    return parts[0]


def graph(src: Path) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for file in sorted(src.rglob("*.rs")):
        module = top_module(src, file)
        if module in ("lib", "main"):
            continue
        text = file.read_text()
        # Tests beside the code may reach anywhere; only what ships counts.
        text = text.split("#[cfg(test)]\nmod tests")[0]
        # Doc links and comments name modules without importing them.
        text = re.sub(r"//[^\n]*", "", text)
        targets = {m for m in PATH.findall(text) if m != module}
        edges.setdefault(module, set()).update(targets)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src")
    edges = graph(src)
    found = cycles(edges)
    for component in found:
        inner = {m: sorted(edges[m] & set(component)) for m in component}
        print(f"cycle of {len(component)} modules:")
        for module, targets in inner.items():
            print(f"  {module} -> {', '.join(targets)}")
    print(f"{len(edges)} top-level modules, {len(found)} import cycle(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
