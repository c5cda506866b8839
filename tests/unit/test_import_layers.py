"""The import layers hold: no cycle in harness/, the layer contract, light config reading.

- No import cycle, deferred imports (inside functions) included. The graph is read from the source with `ast`, so an import inside a function counts as much as one at
the top: either can close a cycle at run time. Importing `a.b.c` also runs the packages `a.b` and
`a` first, so those are edges too, except the packages the importing module itself lives in (they are
already being imported when it runs). Imports under `if TYPE_CHECKING:` never run and are skipped.
- The layer order in pyproject.toml ([tool.importlinter]) holds (`lint-imports`).
- `harness.schemas` imports pydantic and itself only; reading configs and validating a submission
  import no torch.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "harness"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(tree: ast.AST, current: str, is_package: bool) -> list[str]:
    """Dotted names the module imports (for `from a import b`: `a.b` and `a`), relative imports resolved."""
    out: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = current.split(".") if is_package else current.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            out.append(base)
            out.extend(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph(package_dir: Path | None = None) -> dict[str, set[str]]:
    """module -> the harness modules importing it runs (directly)."""
    package_dir = package_dir or ROOT / PACKAGE
    files = {module_name(p): p for p in sorted(package_dir.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        edges: set[str] = set()
        for imported in _imported_names(ast.parse(path.read_text()), name, path.name == "__init__.py"):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in files and target not in own_packages:
                    edges.add(target)
        graph[name] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (or a module importing itself), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the component's first module, as a path that ends where it starts."""
    members = set(component)
    start = component[0]
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first, so the cycle printed is a shortest one through `start`
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    return component


def describe_cycles(graph: dict[str, set[str]]) -> str:
    lines = []
    for comp in strongly_connected(graph):
        lines.append(f"{len(comp)} modules in one cycle: {', '.join(comp)}")
        lines.append("  e.g. " + " -> ".join(a_cycle(graph, comp)))
    return "\n".join(lines)


def test_the_walker_finds_a_deferred_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from pkg import a  # deferred: still a cycle\n    return a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        graph = import_graph(pkg)
    finally:
        ROOT = saved
    assert graph["pkg.c"] == set()  # TYPE_CHECKING imports never run
    assert strongly_connected(graph) == [["pkg.a", "pkg.b"]]
    assert a_cycle(graph, ["pkg.a", "pkg.b"]) == ["pkg.a", "pkg.b", "pkg.a"]


def test_no_import_cycle_in_harness():
    graph = import_graph()
    assert "harness.config" in graph and graph["harness.schemas.tracks"] >= {"harness.schemas.base"}
    report = describe_cycles(graph)
    assert not report, "import cycles in harness/ (deferred imports included):\n" + report


# ------------------------------------------------------------------------------------ layer contract

HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "lm_eval", "vllm")


def _lint_imports(cwd: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(pythonpath or cwd)}
    return subprocess.run([str(exe), "--no-cache", "--no-logo", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_layer_contracts_hold():
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_lint_imports_catches_an_upward_import(tmp_path):
    pkg = tmp_path / "layered"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "top.py").write_text("")
    (pkg / "bottom.py").write_text("def f():\n    from layered import top  # deferred, still upward\n")
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "layered"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "top over bottom"\ntype = "layers"\nlayers = ["layered.top", "layered.bottom"]\n')
    out = _lint_imports(tmp_path, str(config), pythonpath=tmp_path)
    assert out.returncode != 0 and "BROKEN" in out.stdout, out.stdout + out.stderr
    assert "layered.bottom -> layered.top" in out.stdout


def _external_imports(path: Path) -> set[str]:
    names = _imported_names(ast.parse(path.read_text()), module_name(path), path.name == "__init__.py")
    return {n.split(".")[0] for n in names if not n.startswith(PACKAGE + ".") and n != PACKAGE}


def test_schemas_import_pydantic_and_themselves_only():
    graph = import_graph()
    for name, edges in graph.items():
        if name.startswith("harness.schemas"):
            assert all(e.startswith("harness.schemas") for e in edges), f"{name} imports {edges}"
    for path in (ROOT / "harness" / "schemas").glob("*.py"):
        assert _external_imports(path) <= {"__future__", "typing", "pydantic"}, path


def _heavy_modules_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip().splitlines()[-1])  # a printed list of names


def test_reading_tracks_studies_and_suites_imports_nothing_heavy():
    code = ("from harness.config import load_track, track_version\n"
            "from harness.yaml_loader import read_yaml\n"
            "for name in ('tiny-parity', 'smollm2-gsm8k'):\n    track_version(load_track(name))\n"
            "read_yaml('submissions/studies/forgetting.yaml')")
    assert _heavy_modules_after(code) == []


INTERFACE = {"MethodSpec", "method_names", "method_spec", "unknown_method_message", "config_class"}


def test_submission_checks_use_only_the_methods_registry_interface():
    tree = ast.parse((ROOT / "harness" / "submissions.py").read_text())
    from_methods = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith(("harness.methods", "harness.registry")) for alias in node.names]
    assert from_methods and set(from_methods) <= INTERFACE
    plain = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    assert not [n for n in plain if n.startswith("harness.methods")]


def test_validating_a_submission_imports_no_torch():
    code = ("from harness.cli import main\n"
            "assert main(['validate', 'submissions/baselines/talr.yaml', '--track', 'tiny-parity']) == 0\n"
            "assert main(['validate', 'submissions/baselines/grpo.yaml']) == 0")
    assert _heavy_modules_after(code) == []
