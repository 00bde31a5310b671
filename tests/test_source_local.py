"""The local source over real files: an HF cache filled by the real huggingface_hub client
from a local Hub server, a hand-laid cache, model folders, loose GGUF files and an Ollama
store laid out from real library manifests."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures_hub import REVISIONS_REPO
from test_gguf_info import write_tiny_gguf

from nbmodels.demo.ollama.facts import add_manifest
from nbmodels.discover.sources import get_source
from nbmodels.discover.sources.local import MAX_DEPTH, LocalSource, safetensors_parameter_count
from nbmodels.errors import ModelNotFoundError
from nbmodels.settings import Settings
from nbmodels.storage.ollama_store import OllamaStore
from nbmodels.types import ModelSource, ModelType, SupportedTask

LOG = "nbmodels.discover.sources.local"


def nowhere(tmp_path: Path, **kwargs: Any) -> LocalSource:
    """A LocalSource whose places all point at empty/missing folders unless given."""
    options: dict[str, Any] = {
        "hf_cache": tmp_path / "no-hf-cache",
        "ollama_models": tmp_path / "no-ollama",
        "paths": [],
    }
    options.update(kwargs)
    return LocalSource(**options)


def save_safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> int:
    """Write real tensors with the safetensors package; returns their element count."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.zeros(s, dtype=np.float32) for k, s in shapes.items()}, str(path))
    return sum(int(np.prod(s)) for s in shapes.values())


def count_with_safetensors(path: Path) -> int:
    """Parameters counted by the safetensors package itself (loads the tensors)."""
    from safetensors.numpy import load_file

    return sum(int(a.size) for a in load_file(str(path)).values())


# -- the Hugging Face cache, filled by the real client ------------------------------------


@pytest.fixture
def hub_cache(hub_endpoint: str, tiny_models: dict[str, Path], tmp_path: Path) -> Path:
    from huggingface_hub import hf_hub_download, snapshot_download

    cache = tmp_path / "hub-cache"
    snapshot_download("nbmodels-demo/tiny-llama-chat", cache_dir=cache)
    snapshot_download("nbmodels-demo/tiny-embedder", cache_dir=cache)
    hf_hub_download("nbmodels-demo/tiny-classifier", "config.json", cache_dir=cache)
    snapshot_download(REVISIONS_REPO, cache_dir=cache, revision="dev")
    snapshot_download(REVISIONS_REPO, cache_dir=cache)
    return cache


def test_hf_cache_filled_by_the_real_client(
    hub_cache: Path, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from huggingface_hub import scan_cache_dir

    source = nowhere(tmp_path, hf_cache=hub_cache)
    models = {m.id: m for m in source.scan()}
    assert set(models) == {
        "nbmodels-demo/tiny-llama-chat",
        "nbmodels-demo/tiny-embedder",
        "nbmodels-demo/tiny-classifier",
        "nbmodels-test/revisions",
    }
    repos = {r.repo_id: r for r in scan_cache_dir(hub_cache).repos}

    chat = models["nbmodels-demo/tiny-llama-chat"]
    main_sha = (hub_cache / "models--nbmodels-demo--tiny-llama-chat/refs/main").read_text()
    assert chat.source is ModelSource.LOCAL and chat.is_downloaded
    assert chat.version == main_sha
    assert chat.local_path == str(
        hub_cache / "models--nbmodels-demo--tiny-llama-chat" / "snapshots" / main_sha
    )
    assert (Path(chat.local_path) / "config.json").is_file()
    assert chat.size_bytes == repos["nbmodels-demo/tiny-llama-chat"].size_on_disk
    files = {f.path: f for f in chat.files}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(files)
    weights = tiny_models["nbmodels-demo/tiny-llama-chat"] / "model.safetensors"
    assert files["model.safetensors"].size == weights.stat().st_size
    assert files["model.safetensors"].sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert chat.parameters == count_with_safetensors(weights) > 1000
    assert chat.architectures == ("LlamaForCausalLM",)
    assert chat.extra["config_model_type"] == "llama"
    assert (chat.license, chat.language, chat.pipeline_tag) == (
        "apache-2.0",
        ("en",),
        "text-generation",
    )
    assert chat.library == "transformers"
    assert {"llama", "chat", "conversational"} <= set(chat.tags)  # chat_template.jinja
    assert chat.author == "nbmodels-demo" and chat.name == "tiny-llama-chat"
    assert SupportedTask.TEXT_GENERATION in chat.tasks and SupportedTask.CHAT in chat.tasks
    assert chat.model_type is ModelType.INTERFACE_MODEL
    assert chat.config_path == str(Path(chat.local_path) / "config.json")
    assert chat.tokenizer_path == chat.local_path
    assert chat.extra["origin"] == "hf-cache" and chat.extra["refs"] == ["main"]

    embedder = models["nbmodels-demo/tiny-embedder"]
    assert embedder.library == "sentence-transformers"
    assert SupportedTask.EMBEDDING in embedder.tasks
    assert embedder.model_type is ModelType.EMBEDDING_MODEL
    assert "1_Pooling/config.json" in {f.path for f in embedder.files}

    partial = models["nbmodels-demo/tiny-classifier"]  # only config.json was fetched
    assert [f.path for f in partial.files] == ["config.json"]
    assert partial.parameters is None and partial.architectures
    assert not partial.is_downloaded and partial.extra["incomplete"]  # no weights in the cache

    revisions = models["nbmodels-test/revisions"]
    assert revisions.extra["revisions"] == 2
    main = (hub_cache / "models--nbmodels-test--revisions/refs/main").read_text()
    assert revisions.version == main  # refs/main wins over the newer "dev" snapshot
    assert (Path(revisions.local_path) / "weights.txt").read_text() == "main weights\n"


# -- a hand-laid cache, in huggingface_hub's exact layout ----------------------------------


def lay_out_cache_repo(
    cache: Path,
    repo_id: str,
    files: dict[str, bytes],
    *,
    commit: str | None = None,
    repo_type: str = "models",
    ref: str | None = "main",
) -> Path:
    """models--org--name/{blobs/<hash>, refs/main, snapshots/<commit>/<file> -> blob}."""
    repo = cache / f"{repo_type}--{repo_id.replace('/', '--')}"
    commit = commit or hashlib.sha1(repo_id.encode() + b"".join(files.values())).hexdigest()
    snapshot = repo / "snapshots" / commit
    for rel, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        blob = repo / "blobs" / digest
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot


def test_hand_laid_cache_is_seen_and_damage_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from huggingface_hub import scan_cache_dir

    cache = tmp_path / "cache"
    weights = tmp_path / "w.safetensors"
    n = save_safetensors(weights, {"embed.weight": (10, 4), "head.bias": (3,)})
    card = b"---\nlicense: mit\nlanguage: fr\ntags: [demo]\nbase_model: org/base\n---\n# Hi\n"
    config = json.dumps({"architectures": ["BertModel"], "model_type": "bert"}).encode()
    lay_out_cache_repo(
        cache,
        "org/good",
        {"config.json": config, "model.safetensors": weights.read_bytes(), "README.md": card},
    )
    lay_out_cache_repo(cache, "org/broken-config", {"config.json": b"{not json"})
    snapshot = lay_out_cache_repo(cache, "org/broken-link", {"config.json": config})
    blob = (snapshot / "config.json").resolve()
    blob.unlink()  # a snapshot symlink pointing nowhere: huggingface_hub calls it corrupted
    lay_out_cache_repo(cache, "org/some-data", {"data.csv": b"a,b\n"}, repo_type="datasets")
    (cache / "not-a-repo").mkdir()

    seen = {r.repo_id for r in scan_cache_dir(cache).repos}
    assert {"org/good", "org/broken-config", "org/some-data"} <= seen

    with caplog.at_level(logging.WARNING, logger=LOG):
        models = nowhere(tmp_path, hf_cache=cache).scan()
    assert [m.id for m in models] == ["org/good"]
    good = models[0]
    assert good.parameters == n == 43
    assert (good.license, good.language, good.tags) == ("mit", ("fr",), ("demo",))
    assert good.extra["base_model"] == "org/base"
    assert good.architectures == ("BertModel",)
    assert good.files[0].sha256 is not None
    text = caplog.text
    assert "org/broken-config" in text and "config.json is not valid JSON" in text
    assert "Blob missing" in text  # huggingface_hub's reason for the broken link
    assert "not-a-repo" in text


def test_newest_revision_when_there_is_no_main_ref(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = lay_out_cache_repo(cache, "org/m", {"config.json": b'{"model_type": "gpt2"}'}, ref=None)
    new = lay_out_cache_repo(
        cache, "org/m", {"config.json": b'{"model_type": "gpt2", "n": 2}'}, ref=None
    )
    os.utime((old / "config.json").resolve(), (1_000_000, 1_000_000))
    [meta] = nowhere(tmp_path, hf_cache=cache).scan()
    assert meta.local_path == str(new) and meta.version == new.name


def test_missing_or_odd_cache_is_empty(tmp_path: Path) -> None:
    assert nowhere(tmp_path).scan() == []
    file_cache = tmp_path / "a-file"
    file_cache.write_text("x")
    assert nowhere(tmp_path, hf_cache=file_cache).scan() == []
    (tmp_path / "empty").mkdir()
    assert nowhere(tmp_path, hf_cache=tmp_path / "empty").search() == []


# -- folders and GGUF files ---------------------------------------------------------------


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    ft = root / "my-finetune"
    ft.mkdir(parents=True)
    (ft / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "_name_or_path": "meta-llama/Llama-3.2-1B",
                "max_position_embeddings": 4096,
            }
        )
    )
    save_safetensors(ft / "model-00001-of-00002.safetensors", {"a": (64, 32), "b": (32,)})
    save_safetensors(ft / "model-00002-of-00002.safetensors", {"c": (16, 16)})
    (ft / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    (ft / "README.md").write_text("---\npipeline_tag: text-generation\nlicense: mit\n---\nhi\n")
    (ft / ".hidden-notes.txt").write_text("not a model file")

    st = root / "team" / "embedder"
    st.mkdir(parents=True)
    (st / "config.json").write_text(
        json.dumps({"model_type": "bert", "architectures": ["BertModel"]})
    )
    (st / "modules.json").write_text("[]")
    (st / "1_Pooling").mkdir()
    (st / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    save_safetensors(st / "model.safetensors", {"w": (8, 8)})

    write_tiny_gguf(root / "tiny.Q4_K_M.gguf", name="Tiny Llama Chat")
    write_tiny_gguf(
        root / "gguf" / "embed.gguf", arch="bert", name=None, pooling=True, parameter_count=None
    )
    (root / "gguf" / "garbage.gguf").write_bytes(b"not a gguf at all")

    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{oops")
    (root / "webapp").mkdir()
    (root / "webapp" / "config.json").write_text(json.dumps({"port": 8080}))  # not a model
    (root / ".cache" / "hidden-model").mkdir(parents=True)
    (root / ".cache" / "hidden-model" / "config.json").write_text('{"model_type": "gpt2"}')
    deep = root.joinpath(*[f"d{i}" for i in range(MAX_DEPTH + 1)], "too-deep")
    deep.mkdir(parents=True)
    (deep / "config.json").write_text('{"model_type": "gpt2"}')
    return root


def test_folders_and_gguf_files(
    models_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOG):
        models = {m.id: m for m in nowhere(tmp_path, paths=[models_dir]).scan()}
    assert sorted(models) == [
        "gguf/embed.gguf",
        "my-finetune",
        "team/embedder",
        "tiny.Q4_K_M.gguf",
    ]
    ft = models["my-finetune"]
    assert ft.parameters == 64 * 32 + 32 + 16 * 16  # both shards' headers
    assert ft.local_path == str(models_dir / "my-finetune")
    assert ft.extra["origin"] == "folder" and ft.extra["name_or_path"] == "meta-llama/Llama-3.2-1B"
    assert ft.extra["context_length"] == 4096
    assert ".hidden-notes.txt" not in {f.path for f in ft.files}
    assert ft.size_bytes == sum(f.size or 0 for f in ft.files)
    assert ft.updated_at is not None
    assert "conversational" in ft.tags and SupportedTask.CHAT in ft.tasks
    assert ft.license == "mit" and ft.is_downloaded

    emb = models["team/embedder"]
    assert emb.library == "sentence-transformers" and emb.model_type is ModelType.EMBEDDING_MODEL
    assert emb.parameters == 64 and "1_Pooling/config.json" in {f.path for f in emb.files}

    tiny = models["tiny.Q4_K_M.gguf"]
    assert (tiny.name, tiny.parameters, tiny.architectures) == (
        "Tiny Llama Chat",
        1_100_048_384,
        ("llama",),
    )
    assert tiny.extra["quantization"] == "Q4_K_M" and tiny.extra["context_length"] == 2048
    assert tiny.library == "gguf" and {"gguf", "conversational"} <= set(tiny.tags)
    assert SupportedTask.TEXT_GENERATION in tiny.tasks
    assert tiny.size_bytes == (models_dir / "tiny.Q4_K_M.gguf").stat().st_size

    embed = models["gguf/embed.gguf"]
    assert embed.name == "embed" and embed.parameters == 16 * 8 + 8  # summed from tensors
    assert embed.tasks[0] is SupportedTask.EMBEDDING

    log = caplog.text
    assert "broken" in log and "config.json is not valid JSON" in log
    assert "garbage.gguf" in log and "not a GGUF file" in log
    assert "webapp" in log and "does not describe a model" in log
    assert "too-deep" not in str(models)


def test_a_path_that_is_a_gguf_file_or_a_model_folder(models_dir: Path, tmp_path: Path) -> None:
    source = nowhere(tmp_path, paths=[models_dir / "tiny.Q4_K_M.gguf", models_dir / "my-finetune"])
    assert [m.id for m in source.scan()] == ["tiny.Q4_K_M.gguf", "my-finetune"]
    assert nowhere(tmp_path, paths=models_dir / "my-finetune" / "README.md").scan() == []
    assert nowhere(tmp_path, paths=[tmp_path / "missing"]).scan() == []


def test_safetensors_header_only(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    n = save_safetensors(path, {"x": (3, 5, 7), "y": (11,)})
    assert safetensors_parameter_count(path) == (n, {"F32": n})
    assert n == count_with_safetensors(path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="does not fit"):
        safetensors_parameter_count(bad)
    bad.write_bytes(b"\x01")
    with pytest.raises(ValueError, match="shorter"):
        safetensors_parameter_count(bad)


# -- an Ollama store laid out from real library manifests ----------------------------------


@pytest.fixture
def ollama_dir(tmp_path: Path, shared_data: Path) -> Path:
    library = json.loads((shared_data / "ollama-library.json").read_text())["manifests"]
    root = tmp_path / "ollama"
    store = OllamaStore(root)
    real_blobs = {
        # real tiny GGUF files standing in for the (GB-sized) model layers of two models
        "llama3.2:1b": write_tiny_gguf(tmp_path / "l.gguf", name="Llama 3.2 1B").read_bytes(),
        "nomic-embed-text:latest": write_tiny_gguf(
            tmp_path / "n.gguf", arch="nomic-bert", name="nomic", pooling=True
        ).read_bytes(),
    }
    for name in ("llava:7b", "qwen2.5:0.5b", "llama3.2:1b", "nomic-embed-text:latest"):
        manifest = library[name]

        def blob_bytes(layer: Any, name: str = name) -> bytes:
            kind = layer.get("mediaType", "").rsplit(".", 1)[-1]
            if kind == "model" and name in real_blobs:
                return real_blobs[name]
            if kind == "template":  # Qwen's real template uses tools; a few bytes of it
                return b"{{ if .Tools }}<tools>{{ .Tools }}</tools>{{ end }}{{ .Prompt }}"
            if kind == "license" and name == "llama3.2:1b":
                return b"LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\nLlama 3.2 Version Release Date\n"
            if kind == "v1+json":
                return json.dumps({"model_format": "gguf"}).encode()
            return f"stand-in for {layer.get('digest')}".encode()

        add_manifest(store, name, manifest, blob_bytes=blob_bytes)
    return root


def test_ollama_store(ollama_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    library = json.loads((shared_data / "ollama-library.json").read_text())["manifests"]
    models = {m.id: m for m in nowhere(tmp_path, ollama_models=ollama_dir).scan()}
    assert sorted(models) == ["llama3.2:1b", "llava:7b", "nomic-embed-text:latest", "qwen2.5:0.5b"]
    for name, meta in models.items():
        assert meta.size_bytes == sum(layer["size"] for layer in library[name]["layers"])
        assert meta.extra["origin"] == "ollama" and meta.is_downloaded
        assert [f.sha256 for f in meta.files] == [
            layer["digest"].removeprefix("sha256:") for layer in library[name]["layers"]
        ]

    llava = models["llava:7b"]
    assert (llava.name, llava.version) == ("llava", "7b")
    assert "vision" in llava.extra["capabilities"]
    assert SupportedTask.MULTIMODAL_REASONING in llava.tasks
    assert llava.model_type is ModelType.MULTIMODAL_MODEL
    assert llava.parameters is None  # a stand-in blob: no header to read

    llama = models["llama3.2:1b"]
    assert llama.parameters == 1_100_048_384 and llama.architectures == ("llama",)
    assert llama.extra["quantization"] == "Q4_K_M"
    assert llama.local_path is not None and Path(llama.local_path).read_bytes()[:4] == b"GGUF"
    assert SupportedTask.TEXT_GENERATION in llama.tasks
    assert llama.license == "llama3.2"  # the id, from the license layer's first line
    assert llama.extra["license_title"] == "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT"

    nomic = models["nomic-embed-text:latest"]
    assert nomic.extra["capabilities"] == ["embedding"]
    assert nomic.tasks[0] is SupportedTask.EMBEDDING

    qwen = models["qwen2.5:0.5b"]
    assert qwen.extra["capabilities"] == ["completion", "tools"]  # from the template layer
    assert qwen.extra["template"].startswith("{{ if .Tools }}")
    assert SupportedTask.TEXT_GENERATION in qwen.tasks

    source = nowhere(tmp_path, ollama_models=ollama_dir)
    assert source.model_info("nomic-embed-text").id == "nomic-embed-text:latest"


# -- search and model_info over everything ------------------------------------------------


@pytest.fixture
def everything(tmp_path: Path, models_dir: Path, ollama_dir: Path) -> LocalSource:
    cache = tmp_path / "cache"
    config = b'{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}'
    lay_out_cache_repo(cache, "openai-community/gpt2", {"config.json": config})
    lay_out_cache_repo(cache, "team/embedder", {"config.json": config})  # same id as a folder
    return LocalSource(paths=[models_dir], hf_cache=cache, ollama_models=ollama_dir)


def test_search_over_all_places(everything: LocalSource) -> None:
    all_models = everything.search(limit=None)
    assert len(all_models) == 2 + 4 + 4 - 1  # cache, ollama, folders; team/embedder once
    origins = {m.id: m.extra["origin"] for m in all_models}
    assert origins["team/embedder"] == "hf-cache"  # the cache comes first
    assert [m.id for m in everything.search("GPT2")] == ["openai-community/gpt2"]
    assert [m.id for m in everything.search(author="openai-community")] == ["openai-community/gpt2"]
    assert {m.id for m in everything.search(tags=("gguf",))} == {
        "llama3.2:1b",
        "llava:7b",
        "nomic-embed-text:latest",
        "qwen2.5:0.5b",
        "tiny.Q4_K_M.gguf",
        "gguf/embed.gguf",
    }
    embedders = {m.id for m in everything.search(task=SupportedTask.EMBEDDING)}
    assert {"nomic-embed-text:latest", "gguf/embed.gguf"} <= embedders
    assert not {"openai-community/gpt2", "llama3.2:1b", "tiny.Q4_K_M.gguf"} & embedders
    by_size = everything.search(sort="size", limit=2)
    assert [m.id for m in by_size] == ["llava:7b", "llama3.2:1b"]  # manifests' real sizes
    names = [m.name for m in everything.search(sort="name")]
    assert names == sorted(names, key=str.lower)
    assert len(everything.search(limit=3)) == 3


def test_sort_by_updated_follows_file_times(models_dir: Path, tmp_path: Path) -> None:
    for i, rel in enumerate(["my-finetune", "tiny.Q4_K_M.gguf", "team/embedder"]):
        target = models_dir / rel
        for path in [target, *target.rglob("*")] if target.is_dir() else [target]:
            os.utime(path, (1_700_000_000 + i * 1000, 1_700_000_000 + i * 1000))
    source = nowhere(tmp_path, paths=[models_dir])
    ordered = [m.id for m in source.search(sort="updated") if m.id != "gguf/embed.gguf"]
    assert ordered == ["team/embedder", "tiny.Q4_K_M.gguf", "my-finetune"]


def test_model_info(everything: LocalSource) -> None:
    assert everything.model_info("my-finetune").extra["origin"] == "folder"
    assert everything.model_info("OPENAI-COMMUNITY/gpt2").id == "openai-community/gpt2"
    with pytest.raises(ModelNotFoundError) as excinfo:
        everything.model_info("my-finetun")
    message = str(excinfo.value)
    assert "Did you mean 'my-finetune'" in message
    assert str(everything.hf_cache) in message and str(everything.ollama_models) in message
    assert str(everything.paths[0]) in message


def test_defaults_come_from_settings(models_dir: Path, tmp_path: Path) -> None:
    settings = Settings.from_env(local_paths=(models_dir,))
    source = get_source("local", settings=settings)
    assert isinstance(source, LocalSource) and source.is_available()
    assert source.paths == (models_dir,)
    assert source.hf_cache == settings.hf_cache == tmp_path / "hf-home" / "hub"  # conftest
    assert source.ollama_models == tmp_path / "ollama-models"
    assert len(source.search()) == 4
    empty = LocalSource()
    assert empty.search() == []
    with pytest.raises(ModelNotFoundError, match="NBMODELS_LOCAL_PATHS"):
        empty.model_info("anything")


def test_gguf_only_repo_in_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    gguf_bytes = write_tiny_gguf(tmp_path / "q.gguf", parameter_count=494_032_768).read_bytes()
    card = b"---\nlicense: apache-2.0\nbase_model: Qwen/Qwen2.5-0.5B-Instruct\n---\n"
    lay_out_cache_repo(
        cache,
        "someone/Qwen2.5-0.5B-Instruct-GGUF",
        {"qwen2.5-0.5b-instruct-q4_k_m.gguf": gguf_bytes, "README.md": card},
    )
    [meta] = nowhere(tmp_path, hf_cache=cache).scan()
    assert (meta.parameters, meta.architectures, meta.library) == (494_032_768, ("llama",), "gguf")
    assert meta.license == "apache-2.0" and meta.config_path is None
    assert meta.extra["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct"
