"""The layering, read from the source: every import (module level and inside functions) of
`unitaf_blender`, resolved to modules of the package, forms a graph that has no cycle, no edge
from core to the engines or Blender, no bpy below blender/, and no edge between the engines."""
import ast
import pathlib

import pytest

from shared_paths import ROOT

PACKAGE = ROOT / "unitaf_blender"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module, is_package, node, known):
    """Package modules an import statement refers to (`from . import x` counts as module x)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
        return {n for n in names if n in known}, {n.split(".")[0] for n in names}
    base_parts = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base_parts = base_parts[:len(base_parts) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = set()
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        targets.add(candidate if candidate in known else base)
    return {t for t in targets if t in known}, {base.split(".")[0]}


def import_graph():
    known = _modules()
    graph, externals = {}, {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges, ext = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                inside, top = _resolve(module, path.name == "__init__.py", node, known)
                edges |= inside - {module}
                ext |= top
        graph[module], externals[module] = edges, ext
    return graph, externals


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


GRAPH, EXTERNALS = import_graph()


def _edges(src_prefix, dst_prefix):
    return sorted((a, b) for a, bs in GRAPH.items() if a.startswith(src_prefix)
                  for b in bs if b.startswith(dst_prefix))


def test_the_graph_is_read():
    assert "unitaf_blender.core.performance" in GRAPH["unitaf_blender.engines.embedded.engine"]


def test_no_import_cycle():
    # A package's __init__ importing its own submodules for re-export is not a cycle of
    # concerns; every other edge counts, lazy imports included.
    graph = {a: {b for b in bs if not (a.endswith("__init__") or b == a.rsplit(".", 1)[0])}
             for a, bs in GRAPH.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


@pytest.mark.parametrize("src,dst", [
    ("unitaf_blender.core", "unitaf_blender.engines"),
    ("unitaf_blender.core", "unitaf_blender.blender"),
    ("unitaf_blender.core", "unitaf_blender.cli"),
    ("unitaf_blender.engines", "unitaf_blender.blender"),
    ("unitaf_blender.engines", "unitaf_blender.cli"),
    ("unitaf_blender.engines.unitaf", "unitaf_blender.engines.embedded"),
    ("unitaf_blender.engines.embedded", "unitaf_blender.engines.unitaf"),
])
def test_layers_point_one_way(src, dst):
    assert _edges(src, dst) == []


def test_bpy_only_in_the_blender_layer():
    users = sorted(m for m, ext in EXTERNALS.items() if ext & {"bpy", "bmesh", "mathutils"})
    outside = [m for m in users if not m.startswith(("unitaf_blender.blender", "unitaf_blender.cli"))
               and m not in ("unitaf_blender", "unitaf_blender.__main__")]
    assert outside == []
