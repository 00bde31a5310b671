"""Fixtures for a real local Hugging Face Hub: tiny models, the server, the client endpoint.

- ``tiny_models`` (session): the tiny models, built once and cached between runs under
  ``~/.cache/nbmodels-test-models/<tinymodels version>-<transformers version>/``
  (``$NBMODELS_TEST_MODELS_CACHE`` overrides the base folder); a dict ``{repo_id: folder}``
  with ``.repos_dir``.
- ``hub_server`` (session): a :class:`nbmodels.demo.hub.HubServer` on port 0 serving copies of the
  tiny models, three test repos (below) and the 4,167 real records, with ``page_size=100``
  so listings page. ``nbmodels-test/gated-model`` is gated.
- ``hub_endpoint`` (function): points ``huggingface_hub`` (constants and ``HF_ENDPOINT``) at
  ``hub_server`` so ``from_pretrained(repo_id)`` reaches it; returns the url.

Test repos: ``nbmodels-test/gated-model`` (gated), ``nbmodels-test/revisions`` (branches
``main`` and ``dev``, tag ``v1.0``) and ``nbmodels-test/many-files`` (150 files, so its tree
pages).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from nbmodels.demo.hub import TINY_MODELS_VERSION, HubServer, build_tiny_models

__all__ = [
    "GATED_REPO",
    "MANY_FILES_REPO",
    "REVISIONS_REPO",
    "TinyModels",
    "hub_endpoint",
    "hub_server",
    "tiny_models",
]

GATED_REPO = "nbmodels-test/gated-model"
REVISIONS_REPO = "nbmodels-test/revisions"
MANY_FILES_REPO = "nbmodels-test/many-files"


class TinyModels(dict[str, Path]):
    """``{repo_id: folder}`` of the tiny models, plus the folder that holds them all."""

    def __init__(self, folders: dict[str, Path], repos_dir: Path) -> None:
        super().__init__(folders)
        self.repos_dir = repos_dir


@pytest.fixture(scope="session")
def tiny_models() -> TinyModels:
    base = os.environ.get("NBMODELS_TEST_MODELS_CACHE")
    cache = Path(base) if base else Path.home() / ".cache" / "nbmodels-test-models"
    repos_dir = cache / f"v{TINY_MODELS_VERSION}-transformers-{version('transformers')}"
    return TinyModels(build_tiny_models(repos_dir), repos_dir)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _make_test_repos(root: Path) -> None:
    card = "---\nlicense: mit\npipeline_tag: text-generation\ntags:\n- nbmodels-test\n---\n\n# {}\n"
    gated = root / GATED_REPO
    _write(gated / "README.md", card.format("gated"))
    _write(gated / "config.json", json.dumps({"model_type": "llama"}))

    revs = root / REVISIONS_REPO
    _write(revs / "README.md", card.format("revisions"))
    _write(revs / "weights.txt", "main weights\n")
    _write(revs / ".revisions" / "dev" / "README.md", card.format("revisions (dev)"))
    _write(revs / ".revisions" / "dev" / "weights.txt", "dev weights\n")
    _write(revs / ".tags" / "v1.0" / "weights.txt", "v1.0 weights\n")

    many = root / MANY_FILES_REPO
    _write(many / "README.md", card.format("many files"))
    for i in range(150):
        _write(many / "shards" / f"part-{i:03d}.txt", f"part {i}\n")


@pytest.fixture(scope="session")
def hub_server(
    tiny_models: TinyModels, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubServer]:
    root = tmp_path_factory.mktemp("hub-repos")
    for repo_id, folder in tiny_models.items():
        shutil.copytree(folder, root / repo_id)
    _make_test_repos(root)
    server = HubServer(
        root, records=shared_data / "hub-models.parquet", gated={GATED_REPO}, page_size=100
    )
    with server:
        yield server


@pytest.fixture
def hub_endpoint(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> str:
    import huggingface_hub.constants as hfc

    url = hub_server.url
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(hfc, "ENDPOINT", url)
    monkeypatch.setattr(
        hfc, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    return url
