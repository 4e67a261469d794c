"""The layering, read from the source: every import (module level and inside functions) of
`unitaf_blender`, resolved to modules of the package, forms a graph that has no cycle, no edge
from core to the engines or Blender, no bpy below blender/, no edge between the engines (each one
the registry offers), no import of the panel from the rest of the Blender layer or the CLI, and no
front end that reaches into an engine's package. No module-level constant is defined twice with
different values."""
import ast
import collections
import pathlib
import subprocess
import sys

import pytest

from shared_paths import ROOT
from unitaf_blender.engines import Engine, list_engines, registry
from unitaf_blender.engines.option_schema import check_schema

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
    ("unitaf_blender.blender", "unitaf_blender.cli"),
])
def test_layers_point_one_way(src, dst):
    assert _edges(src, dst) == []


def _engine_packages():
    """{engine id: the package its class lives in}, from the registry (every engine it offers)."""
    packages = {}
    for engine_id, _, _ in list_engines():
        module = registry.engine_class(engine_id).__module__
        packages[engine_id] = module.rsplit(".", 1)[0]
    return packages


def test_the_registry_offers_the_engines_of_this_build():
    assert {"embedded", "unitaf"} <= set(_engine_packages())


def test_no_engine_imports_another():
    packages = _engine_packages()
    pairs = [(a, b) for a in packages.values() for b in packages.values() if a != b]
    assert pairs and [edge for a, b in pairs for edge in _edges(a + ".", b + ".")] == []


def test_front_ends_find_engines_through_the_registry():
    """The CLI and the Blender layer import the engines' contract, registry, request path and
    declared assets, never an engine's own package."""
    for package in _engine_packages().values():
        for front_end in ("unitaf_blender.cli", "unitaf_blender.blender"):
            assert _edges(front_end, package + ".") == [], (front_end, package)


@pytest.mark.parametrize("engine_id", [engine_id for engine_id, _, _ in list_engines()])
def test_every_registered_engine_keeps_the_contract(engine_id):
    cls = registry.engine_class(engine_id)
    assert isinstance(cls(), Engine) and cls.id == engine_id and engine_id.isidentifier()
    check_schema(cls.options)
    assert cls.voice_input.kind in ("id", "clip")


def test_no_blender_module_outside_the_panel_imports_it():
    """The panel is loaded by register() alone; the CLI and the panel never import each other."""
    panel = "unitaf_blender.blender.panel"
    outside = [(a, b) for a, bs in GRAPH.items() if not a.startswith(panel) and a != "unitaf_blender"
               for b in bs if b.startswith(panel)]
    assert outside == []


def test_keying_a_take_from_the_cli_loads_no_panel_module():
    code = ("import sys\nimport unitaf_blender.cli, unitaf_blender.cli.scene_commands, unitaf_blender.blender.takes\n"
            "import unitaf_blender.blender.batch\n"
            "print(sorted(m for m in sys.modules if m.startswith('unitaf_blender.blender.panel')))\n"
            "import os; sys.stdout.flush(); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# Every module's own tuple of the classes it registers with Blender (Blender's convention).
_PER_MODULE = {"CLASSES"}


def _module_constants():
    """{NAME: {value source: [modules]}} of every public, upper-case, module-level name."""
    found = collections.defaultdict(lambda: collections.defaultdict(list))
    for module, path in _modules().items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper() and not target.id.startswith("_"):
                    found[target.id][ast.unparse(value)].append(module)
    return found


def test_no_constant_is_defined_twice_with_different_values():
    twice = {name: dict(values) for name, values in _module_constants().items()
             if len(values) > 1 and name not in _PER_MODULE}
    assert twice == {}


def test_the_constant_check_finds_a_fact_written_twice(tmp_path, monkeypatch):
    """The check reads values, not names: FPS = 30 here and FPS = 25 there is reported."""
    (tmp_path / "unitaf_blender").mkdir()
    (tmp_path / "unitaf_blender" / "a.py").write_text("FPS = 30\nSAME = 1\n")
    (tmp_path / "unitaf_blender" / "b.py").write_text("FPS = 25\nSAME = 1\n_PRIVATE = 2\n")
    (tmp_path / "unitaf_blender" / "c.py").write_text("_PRIVATE = 3\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "unitaf_blender")
    found = _module_constants()
    assert dict(found["FPS"]) == {"30": ["unitaf_blender.a"], "25": ["unitaf_blender.b"]}
    assert len(found["SAME"]) == 1 and "_PRIVATE" not in found


def test_bpy_only_in_the_blender_layer():
    users = sorted(m for m, ext in EXTERNALS.items() if ext & {"bpy", "bmesh", "mathutils"})
    outside = [m for m in users if not m.startswith(("unitaf_blender.blender", "unitaf_blender.cli"))
               and m not in ("unitaf_blender", "unitaf_blender.__main__")]
    assert outside == []
