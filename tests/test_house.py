"""The house rules of the code base: one home each for shared pieces, the product apart from
the demo, the environment read in one place."""

from __future__ import annotations

import ast
import errno
import os
from pathlib import Path

import pytest

from nbmodels import errors
from nbmodels.files import atomic_path, atomic_write, ensure_dir
from nbmodels.settings import TRUE_STRINGS, Settings, is_true
from nbmodels.weights import (
    bytes_from_parameters,
    parse_safetensors_header,
    read_safetensors,
    read_safetensors_files,
)

PACKAGE = Path(__file__).resolve().parents[1] / "nbmodels"
#: product modules that may start the demo: the command line (`nbmodels demo`)
MAY_IMPORT_DEMO = {PACKAGE / "cli.py"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    relative_base = path.relative_to(PACKAGE.parent).with_suffix("").parts
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # ("nbmodels", "pkg", "mod") or ("nbmodels", "pkg", "__init__"): level 1 is the
                # folder either way
                base = relative_base[: len(relative_base) - node.level]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.append(module)
            names += [f"{module}.{a.name}" for a in node.names]
    return names


def test_no_product_module_imports_the_demo():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "demo") in path.parents or path in MAY_IMPORT_DEMO:
            continue
        if any(n == "nbmodels.demo" or n.startswith("nbmodels.demo.") for n in _imports(path)):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


#: the rooms of the house: a folder per capability (docs/architecture.md draws them)
ROOMS = (
    "discover",
    "downloader",
    "config",
    "storage",
    "engine",
    "bench",
    "exporter",
    "packing",
    "widgets",
    "demo",
)
#: the modules above the core: the public API, the command line, the notebook views
NOT_CORE = {PACKAGE / "__init__.py", PACKAGE / "__main__.py", PACKAGE / "cli.py"}
MAX_LINES = 800


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Module -> the nbmodels modules it imports anywhere (at the top or in a function)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for imported in _imports(path):
            # `from pkg import mod` names a module; `from mod import name` names its module
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and imported != "nbmodels":
                found.add(imported)
        graph[name] = found
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    """No two modules import each other, directly or round a circle, even inside functions
    (a lazy import still ties them: neither can be read, tested or moved alone)."""
    assert _cycles(_graph()) == []


def test_the_core_never_imports_a_widget():
    """Widgets are views over core objects; a core object shows itself through
    nbmodels.display, which finds its view by name, never by an import."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path in NOT_CORE or (PACKAGE / "widgets") in path.parents:
            continue
        if any(
            n == "nbmodels.widgets" or n.startswith("nbmodels.widgets.") for n in _imports(path)
        ):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_every_view_the_display_names_exists():
    import importlib

    from nbmodels.display import VIEWS

    for location in VIEWS.values():
        module, _, factory = location.partition(":")
        assert callable(getattr(importlib.import_module(module), factory)), location


def test_each_capability_has_its_room_and_no_module_is_too_long():
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert set(ROOMS) <= rooms, set(ROOMS) - rooms
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_environment_is_read_only_by_settings():
    readers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py" or path == PACKAGE / "cli.py":
            continue  # the CLI hands the environment to the JupyterLab it starts
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv", "putenv")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                readers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert readers == []


def test_flags_mean_the_same_everywhere():
    assert all(is_true(t) and is_true(t.upper()) for t in TRUE_STRINGS)
    assert not any(is_true(t) for t in ("", "0", "no", "off", "false", None))
    env = {"NBMODELS_OFFLINE": "On", "NBMODELS_DEMO": "YES"}
    settings = Settings.from_env(env)
    assert settings.offline and settings.demo


def test_atomic_write_leaves_the_old_file_and_no_temp_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b.bin"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"

    def fail(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(errors.StorageError, match="disk is full") as info:
        atomic_write(target, b"two")
    assert isinstance(info.value, OSError) and info.value.path == str(target)
    assert target.read_bytes() == b"one"
    assert sorted(p.name for p in target.parent.iterdir()) == ["b.bin"]


def test_atomic_path_removes_the_temp_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "x.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer broke")
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_folder_should_be_is_a_storage_error(tmp_path):
    blocker = tmp_path / "home"
    blocker.write_text("I am a file")
    with pytest.raises(errors.StorageError, match="is a file, not a folder"):
        ensure_dir(blocker / "catalog")
    with pytest.raises(errors.StorageError):
        atomic_write(blocker / "catalog" / "models.parquet", b"x")
    assert blocker.read_text() == "I am a file"


def _safetensors(path: Path, tensors: dict[str, tuple[str, list[int], int]]) -> None:
    import json
    import struct

    header, offset = {}, 0
    for name, (dtype, shape, width) in tensors.items():
        size = width
        for d in shape:
            size *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def test_weights_from_a_safetensors_header(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _safetensors(a, {"w": ("F32", [4, 8], 4), "e": ("BF16", [10, 8], 2)})
    _safetensors(b, {"h": ("I8", [3, 3], 1)})
    one = read_safetensors(a)
    assert one.parameters == {"F32": 32, "BF16": 80} and one.total == 112
    assert one.nbytes == 32 * 4 + 80 * 2
    both = read_safetensors_files([a, b])
    assert both.total == 121 and both.nbytes == one.nbytes + 9
    assert both.as_hub() == {"parameters": {"F32": 32, "BF16": 80, "I8": 9}, "total": 121}
    # the Hub's per-dtype counts give the same bytes as the header
    assert bytes_from_parameters(both.parameters) == both.nbytes
    with pytest.raises(ValueError, match="shape"):
        parse_safetensors_header(b'{"w": {"dtype": "F32", "shape": "big"}}')


def test_bytes_from_parameters_is_exact_or_unknown():
    assert bytes_from_parameters({"BF16": 1_000, "F32": 10}) == 2_040
    assert bytes_from_parameters({"F4": 3}) == 2  # 1.5 bytes round up
    assert bytes_from_parameters({"WEIRD": 5}) is None  # never a guess
    assert bytes_from_parameters({}) is None and bytes_from_parameters(None) is None


def test_storage_error_is_in_the_tree():
    assert issubclass(errors.StorageError, errors.NBModelsError)
    assert issubclass(errors.StorageError, OSError)
