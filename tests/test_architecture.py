"""The house stays straight: imports follow the layering ARCHITECTURE.md declares.

The ``layers`` block of ARCHITECTURE.md lists the hub's packages from the top down; a package
may import those on lines below its own, never one above or beside it. ``schemas`` and
``connectors`` import nothing of the hub.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS_BLOCK = re.compile(r"```layers\n(?P<body>.*?)```", re.DOTALL)


def declared_layers() -> list[set[str]]:
    """The layers of ARCHITECTURE.md, top first; each a set of ``hub`` sub-packages."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    match = LAYERS_BLOCK.search(text)
    assert match, "ARCHITECTURE.md declares its layers in a ```layers block"
    layers = []
    for line in match["body"].splitlines():
        names = line.split("#", 1)[0].split()
        if names:
            layers.append(set(names))
    return layers


def imports_of(path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (absolute imports), with the line it does so on."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            for alias in node.names:  # from hub import x: x may be a package
                yield f"{node.module}.{alias.name}", node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno


def package_of(module: str) -> str | None:
    """The layer name of a ``hub`` module: its sub-package, or ``hub`` for the top modules."""
    parts = module.split(".")
    if parts[0] != "hub":
        return None
    if len(parts) > 1 and (ROOT / "hub" / parts[1]).is_dir():
        return parts[1]
    return "hub"


def hub_modules() -> Iterator[tuple[Path, str]]:
    for path in sorted((ROOT / "hub").rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        if "migrations" in relative.parts:
            continue  # Alembic's env imports every model, as it must
        module = ".".join(relative.parts).removesuffix(".__init__")
        yield path, module


def test_every_hub_package_has_a_declared_layer() -> None:
    declared = set().union(*declared_layers())
    packages = {package_of(module) for _, module in hub_modules()}
    packages.discard("migrations")
    assert packages - declared == set(), "add the new package to ARCHITECTURE.md's layers"
    assert declared - packages - {"hub"} == set(), "ARCHITECTURE.md names a package that is gone"


def test_no_package_imports_one_above_or_beside_it() -> None:
    layers = declared_layers()
    rank = {name: index for index, names in enumerate(layers) for name in names}
    wrong = []
    for path, module in hub_modules():
        source = package_of(module)
        assert source is not None
        for imported, line in imports_of(path):
            target = package_of(imported)
            if target is None or target == source or target not in rank:
                continue
            if rank[target] <= rank[source]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {imported}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("package", ["schemas", "connectors"])
def test_schemas_and_connectors_never_import_the_hub(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for imported, line in imports_of(path)
        if imported == "hub" or imported.startswith("hub.")
    ]
    assert wrong == [], "\n".join(wrong)
