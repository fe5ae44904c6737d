"""The crate's layers, checked (issue 22).

Reads every `use crate::...` and `crate::...::` path in src/, maps each file
to its top-level module (src/policy/grant.rs -> policy) and each path to the
top-level module it names, and fails (exit 1) when

- a module imports one in its own layer or a layer above it (LAYERS below,
  bottom first): every import points down, so the tree reads as the
  request's path;
- modules import each other in a cycle (printed as the modules involved);
- a top-level module is in no layer (a new one must be placed), or a file
  sits directly in src/ without a reason in LEAF_FILES.

Tests beside the code (`#[cfg(test)] mod tests`) and comments are not
read: a test may reach anywhere, and a doc link imports nothing.

Usage: python3 scripts/layers.py [SRC_DIR]
       python3 scripts/layers.py --self-test
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


# Bottom first. A module may import only from layers below its own.
LAYERS: list[tuple[str, ...]] = [
    ("allocator", "denial", "secrets"),  # the process's allocator; the refusal vocabulary; sealed credentials
    ("config",),  # the TOML file as plain validated data
    ("identity", "telemetry"),  # who a certificate names; metrics recording
    ("policy",),  # every allow/deny decision, as values
    ("observe",),  # where lines go: security log, audit log, sinks
    ("calendar",),  # the backends and the event model
    ("mcp",),  # the tools and sessions
    ("http",),  # the per-request pipeline
    ("transport",),  # bytes until an identity exists; the connection
    ("acme",),  # the server certificate from an ACME CA
    ("connect",),  # the client side: `mcp-gateway connect`, a stdio bridge
    ("gateway", "cli"),  # the composition root; the command-line helpers
]

# Files that stay directly in src/, each with the reason why.
LEAF_FILES: dict[str, str] = {
    "lib.rs": "the crate root",
    "main.rs": "the binary",
    "secrets.rs": "ENC: values, read by config and the Google backend alike",
    "identity.rs": "the client identity a certificate names, used from policy up",
    "telemetry.rs": "metric recording, called from every layer",
    "allocator.rs": "the process's global allocator, named by the binary; it imports nothing of the crate",
}


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


def problems(src: Path) -> list[str]:
    """Everything wrong with the layering of `src`, as lines to print."""
    out: list[str] = []
    edges = graph(src)
    for component in cycles(edges):
        inner = {m: sorted(edges[m] & set(component)) for m in component}
        out.append(f"import cycle of {len(component)} modules:")
        out.extend(f"  {module} -> {', '.join(targets)}" for module, targets in inner.items())
    layer_of = {module: i for i, layer in enumerate(LAYERS) for module in layer}
    for module in sorted(edges):
        if module not in layer_of:
            out.append(f"{module}: in no layer (add it to LAYERS in scripts/layers.py)")
            continue
        for target in sorted(edges[module]):
            if target in layer_of and layer_of[target] >= layer_of[module]:
                out.append(f"{module} imports {target}, which is not in a layer below it")
    for file in sorted(src.glob("*.rs")):
        if file.name not in LEAF_FILES:
            out.append(f"src/{file.name}: a file directly in src/ needs a folder or a reason in LEAF_FILES")
    return out


def self_test() -> None:
    """The check fails on a cycle, an upward import and an unplaced file."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "policy").mkdir()
        (src / "policy" / "mod.rs").write_text("use crate::http::App;\n")
        (src / "http").mkdir()
        (src / "http" / "mod.rs").write_text("use crate::policy::Grant;\n")
        (src / "stray.rs").write_text("// doc: crate::gateway is not an import\n")
        found = "\n".join(problems(src))
        for expected in (
            "import cycle of 2 modules",
            "policy imports http, which is not in a layer below it",
            "stray: in no layer",
            "src/stray.rs: a file directly in src/",
        ):
            assert expected in found, f"self-test: missing {expected!r} in:\n{found}"
        assert "gateway" not in found, "a comment was read as an import"
    print("layers self-test: ok")


def main() -> None:
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src")
    found = problems(src)
    for line in found:
        print(line)
    print(f"{len(graph(src))} top-level modules in {len(LAYERS)} layers, {len(found)} problem(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
