"""The public surface: complete __all__, fast import, one error tree, settings from the env."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import nbmodels
from nbmodels import errors
from nbmodels.settings import Settings
from nbmodels.types import DownloadProgress, DownloadStatus, ModelSource, ModelType, SupportedTask

HEAVY = ("torch", "transformers", "ipywidgets", "accelerate", "bitsandbytes", "IPython")


def test_all_lists_every_public_name_and_each_resolves():
    public = {n for n in dir(nbmodels) if not n.startswith("_")}
    modules = {n for n in public if inspect.ismodule(getattr(nbmodels, n, None))}
    assert public - modules <= set(nbmodels.__all__) | {
        "annotations",
        "importlib",
        "TYPE_CHECKING",
        "Any",
    }
    for name in nbmodels.__all__:
        assert getattr(nbmodels, name) is not None, name


def test_import_is_light():
    """`import nbmodels` pulls in none of the heavy libraries: not even pandas, DuckDB or
    huggingface_hub load before a function needs them (the time is measured in
    benchmarks/bench_import.py, not asserted here)."""
    heavy = (*HEAVY, "pandas", "duckdb", "pyarrow", "huggingface_hub", "numpy")
    code = f"import sys, nbmodels; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    # and they do load once asked for: the check above can fail
    code = "import sys, nbmodels; nbmodels.Catalog; print('duckdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_error_tree_is_one_tree_and_drawn_in_the_docstring():
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == errors.__name__
    ]
    assert set(errors.__all__) >= {c.__name__ for c in classes} - {"NBModelsWarning"}
    for cls in classes:
        assert issubclass(cls, errors.NBModelsError) or issubclass(cls, errors.NBModelsWarning)
        if issubclass(cls, errors.NBModelsError) and cls is not errors.NBModelsError:
            assert cls.__name__ in errors.__doc__, f"{cls.__name__} missing from the drawn tree"
    # leaves inherit the builtin they resemble
    assert issubclass(errors.UnknownSourceError, KeyError)
    assert issubclass(errors.OllamaNotRunningError, ConnectionError)
    assert issubclass(errors.SQLError, ValueError)
    # KeyError subclasses print their message, not its repr
    assert str(errors.UnknownSourceError("use 'huggingface'")) == "use 'huggingface'"


def test_unknown_source_suggests_the_close_name():
    with pytest.raises(errors.UnknownSourceError, match="Did you mean 'huggingface'"):
        nbmodels.get_source("hugginface")
    assert {"huggingface", "ollama", "local", "custom"} <= set(nbmodels.available_sources())


@pytest.mark.parametrize(
    ("enum", "text", "member"),
    [
        (SupportedTask, "TEXT_GENERATION", SupportedTask.TEXT_GENERATION),
        (SupportedTask, "text-generation", SupportedTask.TEXT_GENERATION),
        (SupportedTask, "Text Generation", SupportedTask.TEXT_GENERATION),
        (ModelType, "embedding", ModelType.EMBEDDING_MODEL),
        (ModelType, "EMBEDDING_MODEL", ModelType.EMBEDDING_MODEL),
        (ModelSource, "hugging_face", ModelSource.HUGGING_FACE),
        (DownloadStatus, "Completed", DownloadStatus.COMPLETED),
    ],
)
def test_enums_parse_values_and_names(enum, text, member):
    assert enum.parse(text) is member


def test_enum_parse_error_lists_choices():
    with pytest.raises(errors.ConfigurationError, match="text-generation"):
        SupportedTask.parse("text-generaton")


def test_settings_from_env_and_token_never_shown(tmp_path):
    env = {
        "NBMODELS_HOME": str(tmp_path),
        "HF_ENDPOINT": "http://127.0.0.1:8000/",
        "HF_TOKEN": "hf_SECRETSECRET",
        "OLLAMA_HOST": "0.0.0.0",
        "NBMODELS_OFFLINE": "yes",
        "NBMODELS_CATALOGS": f"{tmp_path}/a.yaml:{tmp_path}/b.csv",
    }
    s = Settings.from_env(env)
    assert s.home == tmp_path and s.hf_endpoint == "http://127.0.0.1:8000"
    assert s.ollama_host == "http://127.0.0.1:11434"
    assert s.offline is True and len(s.custom_catalogs) == 2
    assert s.hf_token == "hf_SECRETSECRET"
    assert "SECRET" not in repr(s) and "SECRET" not in str(s)
    with pytest.raises(errors.ConfigurationError, match="http"):
        Settings.from_env({"HF_ENDPOINT": "huggingface.co"})
    with pytest.raises(errors.ConfigurationError, match="seconds"):
        Settings.from_env({"NBMODELS_TIMEOUT": "soon"})


def test_download_progress_percentage():
    p = DownloadProgress("m", DownloadStatus.DOWNLOADING, downloaded_bytes=50, total_bytes=200)
    assert p.progress_percentage == 25.0
    assert DownloadProgress("m", DownloadStatus.COMPLETED).progress_percentage == 100.0
