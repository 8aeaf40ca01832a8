"""The package's layers: every import points down (or within its own layer), never up.

The order is the architecture (``docs/architecture.md``): errors ← redis ← engine ←
settings/runtime ← web ← api ← app ← cli/asgi/testing. Imports under ``if TYPE_CHECKING:``
are for annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "counter"

# Lower rank = lower layer. A module may import modules of its own rank or below.
LAYERS: dict[str, int] = {
    "counter.errors": 0,
    "counter.version": 0,
    "counter.redis": 1,
    "counter.load": 1,  # an HTTP client of any server: needs only counter.errors
    "counter.engine": 2,
    "counter.settings": 3,
    "counter.runtime": 3,
    "counter.web": 4,
    "counter.api": 5,
    "counter.app": 6,
    "counter.cli": 7,
    "counter.asgi": 7,
    "counter.rsgi": 7,
    "counter.testing": 7,
    "counter": 8,  # the package's public face re-exports from every layer
}


def layer_of(module: str) -> str:
    """The longest LAYERS entry that is ``module`` or a package above it."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        name = ".".join(parts[:length])
        if name in LAYERS:
            return name
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and the docs")


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def runtime_imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a ``counter`` module outside TYPE_CHECKING."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, target))
    return [
        (line, name) for line, name in found if name == "counter" or name.startswith("counter.")
    ]


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    own = layer_of(module)
    return [
        f"line {line}: {own} imports {target} ({layer_of(target)})"
        for line, target in runtime_imports(source, module, is_package)
        if LAYERS[layer_of(target)] > LAYERS[own]
    ]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_down(path: Path) -> None:
    problems = upward_imports(path.read_text(), module_name(path), path.name == "__init__.py")
    assert not problems, "\n".join(problems)


def test_every_module_has_a_layer_and_stays_small() -> None:
    for path in MODULES:
        layer_of(module_name(path))
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (max 400)"


def test_the_rule_can_fail() -> None:
    # An engine module reaching up into the web layer, absolutely or relatively, is caught;
    # the same import only for annotations is not.
    assert upward_imports("from counter.web.errors import status_for\n", "counter.engine.x")
    assert upward_imports("from ..web import errors\n", "counter.engine.x")
    assert upward_imports("import counter.api\n", "counter.web.x")
    annotations_only = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import counter.app\n"
    )
    assert not upward_imports(annotations_only, "counter.engine.x")
    assert not upward_imports("from counter.redis import resp\n", "counter.engine.x")
