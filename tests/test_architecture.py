"""The house keeps its shape (docs/architecture.md).

import-linter's layers contract (pyproject.toml, run by .ci/run) says which stage may
import which; these tests say what it cannot: nothing imports the package's front door,
no module reaches into another module's private names, and no module grows past the
size a reader can hold without saying why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import audience_dsl

PACKAGE = Path(audience_dsl.__file__).resolve().parent
MODULES = sorted(PACKAGE.rglob("*.py"))
#: Lines a module may have before its docstring must say why it is one module.
MAX_LINES = 650


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, "." * node.level + (node.module or ""), []))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, []) for a in node.names)
    return found


def _submodules() -> set[str]:
    return {p.stem if p.name != "__init__.py" else p.parent.name for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_the_front_door(path: Path) -> None:
    if path == PACKAGE / "__init__.py":
        return
    submodules = _submodules()
    for line, module, names in _imports(path):
        assert not module.startswith("."), f"{path.name}:{line}: relative import {module}"
        assert module != "audience_dsl" or set(names) <= submodules, (
            f"{path.name}:{line}: imports {names} from the front door; import the stage"
        )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reaches_into_private_names(path: Path) -> None:
    for line, module, names in _imports(path):
        if module.startswith("audience_dsl"):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{path.name}:{line}: imports private {private} from {module}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small_or_say_why(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count("\n") <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert "One module because" in docstring, (
        f"{path.relative_to(PACKAGE)} has {text.count(chr(10))} lines; split it, or say in "
        "its docstring why it is one module ('One module because ...')"
    )


def test_the_pipeline_is_visible_at_the_top() -> None:
    names = {p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))}
    stages = {"language", "check", "lower.py", "semantics.py", "braze", "evaluator", "sender",
              "testing", "cli", "pipeline.py"}  # fmt: skip
    assert stages <= names, stages - names


def test_the_pytest_plugin_loads_nothing_heavy() -> None:
    # Every pytest run in an environment with audience-dsl installed loads the plugin.
    import subprocess
    import sys

    script = (
        "import sys, audience_dsl.testing.plugin; "
        "print(sorted(m for m in ('lark', 'pydantic', 'httpx', 'audience_dsl.testing.endpoint',"
        " 'audience_dsl.pipeline', 'audience_dsl.evaluator') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
