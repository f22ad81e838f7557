"""The project's layering, checked from the source (static AST scans, nothing imported):

  * core/ never imports streamlit or app (core is plain PyTorch/NumPy; the bench and the command
    line drive it without a web server);
  * no import cycles among core's modules. Every import counts — module-level ones and those
    inside functions (a lazy import still ties two modules together) — except imports under
    `if TYPE_CHECKING:`, which never run. A package's `__init__` is not counted as imported by its
    own submodules (Python runs it first, but it only re-exports them);
  * only core/settings.py reads the environment (one policy for every CNN_LAB_* variable);
  * test modules never import other test modules (shared pieces live in tests/fakes.py,
    tests/helpers.py and tests/conftest.py), and bench/ never imports tests/;
  * pages/ import no torch directly (pages are layout; core does the computing).
And one check that runs code: checking a spec or a training config against the server's limits
does not load PyTorch (a fresh interpreter, then a look at sys.modules).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file that can run, absolute names; for
    `from package import name`, both the package and package.name (name may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            out.append((base, node.lineno))
            out.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_core_never_imports_streamlit_or_app():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {name}"
           for p in sources("core") for name, line in imports(p)
           if name.split(".")[0] in ("streamlit", "app", "pages")]
    assert not bad, "core must stay free of the web layer:\n" + "\n".join(bad)


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in sources("core")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for name, _ in imports(path):
            if name in modules and name != mod and not mod.startswith(name + "."):
                graph[mod].add(name)   # a submodule's own package __init__ is not an edge
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, …, a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_no_import_cycles_in_core():
    graph = core_graph()
    assert "core.jobs.manager" in graph and graph["core.jobs.manager"], "the scan sees core's imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_only_core_settings_reads_the_environment():
    bad = []
    for p in sources("core"):
        if p.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                    and isinstance(node.value, ast.Name) and node.value.id == "os"):
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno} reads os.{node.attr}")
    assert not bad, "read settings through core.settings:\n" + "\n".join(bad)


def test_test_modules_do_not_import_each_other_and_bench_does_not_import_tests():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {name}"
           for p in sources("tests") for name, line in imports(p)
           if name.startswith("tests.test_")]
    bad += [f"{p.relative_to(ROOT)}:{line} imports {name}"
            for p in sources("bench") for name, line in imports(p)
            if name.split(".")[0] == "tests"]
    assert not bad, "\n".join(bad)


def test_pages_do_not_import_torch():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {name}"
           for p in sources("pages") for name, line in imports(p)
           if name.split(".")[0] == "torch"]
    assert not bad, "pages are layout; move the computation into core:\n" + "\n".join(bad)


def test_checking_a_spec_or_a_config_does_not_load_torch():
    code = (
        "import sys\n"
        "import core.limits, core.train_config, core.models\n"
        "from core.models import PRESETS\n"
        "spec = PRESETS['fast'].spec()\n"
        "core.limits.check_spec(spec)\n"
        "core.limits.spec_figures(spec)\n"
        "core.models.summary(spec)\n"
        "core.train_config.check_config(core.train_config.config_from_preset('fast'))\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "[]", f"PyTorch was loaded: {p.stdout.strip()[:300]}"
