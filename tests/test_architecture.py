"""The layering rules of DEVELOPERS.md, enforced: arrows only point down.

gui, cli → training → runtime → core. Core never imports Qt, onnxruntime or torch; only gui imports Qt;
torch is imported only by training. Checked statically (every import statement, also inside functions) and
dynamically (importing the lower layers pulls in none of the forbidden packages).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "app" / "polychrome"

QT = {"PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "qtpy", "superqt"}
LAYERS = ["core", "runtime", "training", "cli", "gui"]
# what each layer may NOT import (third-party top-level names and polychrome sub-packages)
FORBIDDEN = {
    "core": QT | {"onnxruntime", "torch", "onnx"} | {"polychrome." + x for x in ("runtime", "training", "cli", "gui")},
    "runtime": QT | {"torch"} | {"polychrome." + x for x in ("training", "cli", "gui")},
    "training": QT | {"polychrome." + x for x in ("cli", "gui")},
    "cli": QT | {"polychrome.gui"},
    "gui": set(),
}
TORCH_OK = {"training"}


def layer_of(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0] if len(rel) > 1 and rel[0] in LAYERS else "top"


def imports_of(path: Path):
    """(lineno, absolute module name) for every import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    pkg_parts = ["polychrome"] + list(path.relative_to(PKG).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    for a in node.names:
                        yield node.lineno, f"{mod}.{a.name}"
                    continue
                yield node.lineno, mod
            else:
                yield node.lineno, node.module or ""
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def violations(path: Path, layer: str):
    bad = []
    forbidden = FORBIDDEN.get(layer, set())
    for lineno, mod in imports_of(path):
        top = mod.split(".")[0]
        hit = top in forbidden or any(mod == f or mod.startswith(f + ".") for f in forbidden if "." in f)
        if top == "torch" and layer not in TORCH_OK:
            hit = True
        if hit:
            bad.append(f"{path.relative_to(PKG.parent)}:{lineno} ({layer}) imports {mod}")
    return bad


def test_no_module_imports_across_the_boundaries():
    files = sorted(PKG.rglob("*.py"))
    assert len(files) > 15
    bad = []
    for f in files:
        layer = layer_of(f)
        if layer == "top":
            # polychrome/__main__.py is the entry point above gui and cli; polychrome/__init__.py must stay as
            # light as core (importing the package may pull in nothing heavy).
            layer = "gui" if f.name == "__main__.py" else "core"
        bad += violations(f, layer)
    assert not bad, "layering violations:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "layer, source",
    [
        ("core", "import onnxruntime\n"),
        ("core", "def f():\n    from PySide6 import QtCore\n"),
        ("core", "from ..runtime import colorizer\n"),
        ("runtime", "import torch\n"),
        ("cli", "from ..gui import main_window\n"),
        ("training", "import pyqtgraph as pg\n"),
        ("core", "import importlib\nimportlib.import_module('torch')\n"),
    ],
)
def test_the_checker_catches_wrong_imports(tmp_path, monkeypatch, layer, source):
    fake_pkg = tmp_path / "polychrome"
    (fake_pkg / layer).mkdir(parents=True)
    f = fake_pkg / layer / "bad.py"
    f.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake_pkg)
    assert violations(f, layer_of(f))


def test_importing_lower_layers_loads_no_forbidden_package():
    code = (
        "import sys, pkgutil, importlib\n"
        "import polychrome.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('polychrome.core.' + m.name)\n"
        "bad = {'onnxruntime','torch','PySide6','pyqtgraph'} & set(sys.modules)\n"
        "assert not bad, 'core pulled in: ' + str(bad)\n"
        "import polychrome.runtime as r\n"
        "for m in pkgutil.iter_modules(r.__path__): importlib.import_module('polychrome.runtime.' + m.name)\n"
        "import polychrome.cli.main\n"
        "polychrome.cli.main.build_parser()\n"
        "bad = {'torch','PySide6','pyqtgraph'} & set(sys.modules)\n"
        "assert not bad, 'runtime/cli pulled in: ' + str(bad)\n"
        "print('ok')\n"
    )
    env_path = str(PKG.parent)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": env_path})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def gui_model_modules():
    """The Qt-free models of the GUI's feature folders (``gui/<feature>/model.py``)."""
    return sorted((PKG / "gui").glob("*/model.py"))


def test_the_gui_feature_models_import_no_qt():
    """A GUI feature's model is plain Python: no Qt, statically (every import) and when imported."""
    models = gui_model_modules()
    assert {p.parent.name for p in models} >= {"queue", "compare", "ab", "export", "wizard"}
    bad = []
    for f in models:
        for n, m in imports_of(f):
            top = m.split(".")[0]
            # no Qt and no torch; of the GUI only other models (a controller or a view would bring Qt)
            if top in QT or top == "torch" or (m.startswith("polychrome.gui.") and not m.endswith(".model")):
                bad.append(f"{f.relative_to(PKG.parent)}:{n} imports {m}")
    assert not bad, "Qt in a GUI model:\n" + "\n".join(bad)
    names = ", ".join("polychrome.gui." + p.parent.name + ".model" for p in models)
    code = (f"import sys, importlib\nfor m in '{names}'.split(', '): importlib.import_module(m)\n"
            "bad = {'PySide6', 'pyqtgraph', 'torch'} & set(sys.modules)\nassert not bad, bad\nprint('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(PKG.parent)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
