from __future__ import annotations

import ast
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import dctrgan

SRC = Path(dctrgan.__file__).parent
MODULES = sorted(SRC.rglob("*.py"))

#: The public names of ``import dctrgan``: changing them is an API change.
PUBLIC = {
    "DCTR",
    "WGAN",
    "Geometry",
    "Hist",
    "Refiner",
    "Regressor",
    "ShowerGAN",
    "__version__",
    "bias_resolution",
    "data",
    "dctr",
    "demo",
    "features",
    "io",
    "iterate",
    "nn",
    "plot",
    "read",
    "refiner",
    "regression",
    "report",
    "simulate",
    "stats",
    "training",
    "validate",
    "wgan",
    "write",
}


def _name(path: Path) -> str:
    """Dotted module name of a file under ``src/dctrgan``."""
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_public_names() -> None:
    assert set(dctrgan.__all__) == PUBLIC
    assert set(dir(dctrgan)) == set(dctrgan.__all__)
    for name in dctrgan.__all__:
        assert getattr(dctrgan, name) is not None
    assert dctrgan.read is dctrgan.io.read
    assert dctrgan.write is dctrgan.io.write
    assert dctrgan.DCTR is dctrgan.dctr.DCTR
    assert dctrgan.WGAN is dctrgan.wgan.WGAN
    assert dctrgan.ShowerGAN is dctrgan.wgan.ShowerGAN


def test_typed_marker_is_shipped() -> None:
    assert resources.files("dctrgan").joinpath("py.typed").is_file()


@pytest.mark.parametrize("path", [p for p in MODULES if p.name == "__init__.py"], ids=_name)
def test_subpackage_faces_only_hand_names_on(path: Path) -> None:
    """A package's ``__init__`` holds a docstring, imports, ``__all__`` and at most
    ``__dir__``; every name of ``__all__`` is there."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        imports = isinstance(node, ast.Import | ast.ImportFrom)
        exports = isinstance(node, ast.Assign) and [
            t.id for t in node.targets if isinstance(t, ast.Name)
        ] == ["__all__"]
        dunder_dir = isinstance(node, ast.FunctionDef) and node.name == "__dir__"
        assert docstring or imports or exports or dunder_dir, (
            f"{_name(path)}: line {node.lineno} is more than handing names on"
        )
    module = sys.modules.get(_name(path)) or __import__(_name(path), fromlist=["_"])
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{_name(path)}.__all__ names missing attributes: {missing}"


def _private_imports(path: Path) -> list[str]:
    """Private names imported from another module, and private modules imported from
    outside the package that holds them."""
    here = _name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dctrgan")):
            continue
        assert node.module is not None
        found += [
            f"{here}: {a.name} from {node.module}"
            for a in node.names
            if a.name.startswith("_")
            and a.name != "__version__"
            and f"{node.module}.{a.name}".rpartition(".")[0] != package  # a sibling module
        ]
        parts = node.module.split(".")
        for i, part in enumerate(parts):
            owner = ".".join(parts[:i])
            inside = package == owner or package.startswith(f"{owner}.")
            if part.startswith("_") and part != "_version" and not inside:
                found.append(f"{here}: module {node.module}")
    return found


def test_no_private_name_crosses_modules() -> None:
    """Private helpers stay inside the subpackage they serve (STYLE.md, Shape)."""
    found = [f for path in MODULES for f in _private_imports(path)]
    assert not found, "\n".join(found)


def test_modules_stay_below_600_lines() -> None:
    sizes = {_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    assert {m: n for m, n in sizes.items() if n > 600} == {}


def test_python_m_dctrgan_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dctrgan", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert dctrgan.__version__ in result.stdout
