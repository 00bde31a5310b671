"""Models already on this machine: the Hugging Face cache, an Ollama store, model folders.

    >>> src = LocalSource(paths=["~/models"])
    >>> [m.id for m in src.search()]
    ['Qwen/Qwen2.5-0.5B-Instruct', 'llama3.2:1b', 'my-finetune', 'tinyllama.Q4_K_M.gguf']

Where it looks (``extra["origin"]`` says which one found a model):

``hf-cache``
    ``settings.hf_cache`` (``HF_HUB_CACHE``), read with ``huggingface_hub.scan_cache_dir``:
    one model per cached model repo, at the snapshot of ``refs/main`` (else the newest).
``ollama``
    ``settings.ollama_models`` (``OLLAMA_MODELS``), read with :class:`~nbmodels.storage.ollama_store.OllamaStore`;
    ids are Ollama names (``"llama3.2:1b"``).
``folder``
    folders under ``paths`` (``NBMODELS_LOCAL_PATHS``) holding a ``config.json``, as
    ``save_pretrained`` writes them; the id is the folder's path relative to the root.
``gguf``
    ``*.gguf`` files under ``paths`` (or a path that is itself a ``.gguf`` file).

Metadata comes from the files only: ``config.json`` (architectures), the model card's YAML
front matter (license, language, pipeline_tag, library_name, tags), the tensor shapes in
the safetensors headers (number of parameters) and GGUF headers. Nothing is loaded into
memory beyond headers. A missing folder is an empty result; a damaged model is skipped
and the reason logged (logger ``nbmodels.discover.sources.local``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...errors import ModelNotFoundError
from ...gguf_info import GGUFError, GGUFInfo, is_gguf, read_gguf_info
from ...settings import Settings
from ...types import FileInfo, ModelMetadata, ModelSource
from ...units import parse_count
from ...weights import read_safetensors
from ..tasks import annotate, capabilities_from_media_types
from .base import InMemorySource, did_you_mean, find_by_id

__all__ = ["MAX_DEPTH", "LocalSource", "safetensors_parameter_count"]

log = logging.getLogger(__name__)

#: how many folder levels below each root of ``paths`` are searched for models
MAX_DEPTH = 4
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "blobs"}
_HF_CACHE_DIR = re.compile(r"^(models|datasets|spaces)--")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_WEIGHT_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".gguf",
    ".pt",
    ".pth",
    ".onnx",
    ".h5",
    ".msgpack",
    ".ckpt",
)


class _Skip(Exception):
    """A model that cannot be described (reason in the message); it is left out."""


# -- reading files ------------------------------------------------------------------------


def safetensors_parameter_count(path: str | os.PathLike[str]) -> tuple[int, dict[str, int]]:
    """``(number of parameters, parameters per dtype)`` from a safetensors file's header
    (see :mod:`nbmodels.weights`). Raises ValueError if the header is damaged."""
    info = read_safetensors(path)
    return info.total, dict(info.parameters)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Skip(f"{path.name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _Skip(f"{path.name} is not a JSON object")
    return value


def _card_data(readme: Path) -> dict[str, Any]:
    """The YAML front matter of a model card ({} if none or unreadable)."""
    from huggingface_hub import metadata_load

    try:
        return metadata_load(readme) or {}
    except Exception as exc:  # yaml.YAMLError, ValueError, OSError, UnicodeDecodeError
        log.info("ignoring the front matter of %s: %s", readme, exc)
        return {}


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int | float) and str(v).strip())
    return ()


def _weights(folder: Path) -> list[Path]:
    """The safetensors files that make up the model in ``folder`` (shards, not variants)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = _read_json(index).get("weight_map") or {}
            return [folder / name for name in sorted(set(weight_map.values()))]
        except _Skip:
            pass
    return sorted(folder.glob("*.safetensors"))


def _folder_fields(folder: Path) -> dict[str, Any]:
    """ModelMetadata fields read from a model folder's files (raises _Skip if damaged)."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    tags: list[str] = []
    config_file = folder / "config.json"
    if config_file.is_file():
        config = _read_json(config_file)
        fields["config_path"] = str(config_file)
        fields["architectures"] = _words(config.get("architectures"))
        for key, out in (
            ("model_type", "config_model_type"),
            ("max_position_embeddings", "context_length"),
            ("dtype", "dtype"),
            ("torch_dtype", "dtype"),
        ):
            if config.get(key) is not None and out not in extra:
                extra[out] = config[key]
        name_or_path = config.get("_name_or_path")
        if isinstance(name_or_path, str) and name_or_path and not os.path.isabs(name_or_path):
            extra["name_or_path"] = name_or_path
        if config.get("model_type") or config.get("architectures"):
            fields["library"] = "transformers"

    params = 0
    for shard in _weights(folder):
        try:
            count, _ = safetensors_parameter_count(shard)
        except (OSError, ValueError) as exc:
            log.info("cannot count the parameters of %s: %s", shard, exc)
            params = 0
            break
        params += count
    if params:
        fields["parameters"] = params
    elif not config_file.is_file():
        ggufs = sorted(folder.glob("*.gguf"))
        if ggufs:  # a GGUF-only repo: all its files are quantizations of one model
            try:
                info = read_gguf_info(ggufs[0])
            except GGUFError as exc:
                log.info("cannot read %s: %s", ggufs[0], exc)
            else:
                fields["parameters"] = info.parameter_count
                fields["architectures"] = (info.architecture,) if info.architecture else ()
                fields["library"] = "gguf"

    readme = folder / "README.md"
    if readme.is_file():
        card = _card_data(readme)
        if isinstance(card.get("license"), str):
            fields["license"] = card["license"]
        fields["language"] = _words(card.get("language"))
        if isinstance(card.get("pipeline_tag"), str):
            fields["pipeline_tag"] = card["pipeline_tag"]
        if isinstance(card.get("library_name"), str):
            fields["library"] = card["library_name"]
        tags += _words(card.get("tags"))
        if card.get("base_model"):
            extra["base_model"] = card["base_model"]
    if (folder / "modules.json").is_file() or (
        folder / "config_sentence_transformers.json"
    ).is_file():
        fields["library"] = "sentence-transformers"
        tags.append("sentence-transformers")
    if any((folder / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json")):
        fields["tokenizer_path"] = str(folder)
        if _has_chat_template(folder):
            tags.append("conversational")  # what the Hub tags models with a chat template
    fields["tags"] = tuple(dict.fromkeys(tags))
    fields["extra"] = extra
    return fields


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config = folder / "tokenizer_config.json"
    try:
        return config.is_file() and bool(_read_json(config).get("chat_template"))
    except _Skip:
        return False


def _gguf_capabilities(info: GGUFInfo) -> list[str]:
    """Ollama's rules: a pooling model embeds, any other completes; a vision tower sees."""
    caps = ["embedding" if info.pooling else "completion"]
    if info.architecture and f"{info.architecture}.vision.block_count" in info.metadata:
        caps.append("vision")
    return caps


def _gguf_extra(info: GGUFInfo) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "quantization": info.quantization,
        "context_length": info.context_length,
        "embedding_length": info.embedding_length,
        "gguf_name": info.name,
        "has_chat_template": info.chat_template is not None,
    }
    return {k: v for k, v in extra.items() if v is not None}


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return None


# -- the source ---------------------------------------------------------------------------


class LocalSource(InMemorySource):
    """Models on this machine. Every call rescans (headers only), so new downloads show up."""

    name = "local"
    kind = ModelSource.LOCAL

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        hf_cache: str | os.PathLike[str] | None = None,
        ollama_models: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(settings)
        if paths is None:
            roots: Iterable[str | os.PathLike[str]] = self.settings.local_paths
        elif isinstance(paths, str | os.PathLike):
            roots = [paths]
        else:
            roots = paths
        self.paths: tuple[Path, ...] = tuple(Path(p).expanduser() for p in roots)
        self.hf_cache = Path(
            hf_cache if hf_cache is not None else self.settings.hf_cache
        ).expanduser()
        self.ollama_models = Path(
            ollama_models if ollama_models is not None else self.settings.ollama_models
        ).expanduser()

    def __repr__(self) -> str:
        return (
            f"<LocalSource hf_cache={str(self.hf_cache)!r} "
            f"ollama_models={str(self.ollama_models)!r} paths={[str(p) for p in self.paths]!r}>"
        )

    # -- scanning ---------------------------------------------------------------------------
    def models(self) -> list[ModelMetadata]:
        """Every model found (an alias of :meth:`scan`)."""
        return self.scan()

    def scan(self) -> list[ModelMetadata]:
        """Every local model: HF cache, then Ollama store, then folders and GGUF files.

        An id found twice keeps its first record (the later one is logged and left out).
        """
        found: dict[str, ModelMetadata] = {}
        for meta in (*self._scan_hf_cache(), *self._scan_ollama(), *self._scan_paths()):
            if meta.id in found:
                log.info(
                    "%s (%s) has the same id as a model from %s; keeping the first",
                    meta.local_path,
                    meta.extra.get("origin"),
                    found[meta.id].extra.get("origin"),
                )
                continue
            found[meta.id] = meta
        return list(found.values())

    def _scan_hf_cache(self) -> list[ModelMetadata]:
        if not self.hf_cache.is_dir():
            log.debug("no Hugging Face cache at %s", self.hf_cache)
            return []
        from huggingface_hub import scan_cache_dir

        try:
            cache = scan_cache_dir(self.hf_cache)
        except (OSError, ValueError) as exc:  # CacheNotFound is an OSError
            log.warning("cannot scan the Hugging Face cache %s: %s", self.hf_cache, exc)
            return []
        for problem in cache.warnings:
            log.warning("skipping a damaged entry of the Hugging Face cache: %s", problem)
        models = []
        for repo in sorted(cache.repos, key=lambda r: r.repo_id):
            if repo.repo_type != "model":
                continue
            try:
                models.append(self._hf_repo(repo))
            except (_Skip, OSError) as exc:
                log.warning("skipping %s in the Hugging Face cache: %s", repo.repo_id, exc)
        return models

    def _hf_repo(self, repo: Any) -> ModelMetadata:
        revisions = list(repo.revisions)
        if not revisions:
            raise _Skip("it has no snapshot (nothing was downloaded)")
        main = [r for r in revisions if "main" in r.refs]
        revision = main[0] if main else max(revisions, key=lambda r: r.last_modified)
        snapshot = Path(revision.snapshot_path)
        files = []
        for f in sorted(revision.files, key=lambda f: str(f.file_path)):
            blob = Path(f.blob_path).name
            files.append(
                FileInfo(
                    path=Path(f.file_path).relative_to(snapshot).as_posix(),
                    size=f.size_on_disk,
                    sha256=blob if _SHA256.match(blob) else None,
                )
            )
        fields = _folder_fields(snapshot)
        # a model card fetched alone (model_info, ModelCard.load) leaves a snapshot with no
        # weights: list it, but not as downloaded
        has_weights = any(f.path.rsplit("/", 1)[-1].endswith(_WEIGHT_SUFFIXES) for f in files)
        fields["extra"] = {
            "origin": "hf-cache",
            **(
                {}
                if has_weights
                else {
                    "incomplete": "no weight files in the cache",
                    "size_on_disk": repo.size_on_disk,
                }
            ),
            "refs": sorted(revision.refs),
            "revisions": len(revisions),
            **fields["extra"],
        }
        repo_id: str = repo.repo_id
        meta = ModelMetadata(
            id=repo_id,
            source=ModelSource.LOCAL,
            name=repo_id.rsplit("/", 1)[-1],
            author=repo_id.split("/", 1)[0] if "/" in repo_id else None,
            version=revision.commit_hash,
            # without weights the model's size is unknown (a filter on size says so)
            size_bytes=repo.size_on_disk if has_weights else None,
            files=tuple(files),
            local_path=str(snapshot),
            updated_at=datetime.fromtimestamp(repo.last_modified, tz=UTC),
            is_downloaded=has_weights,
            **fields,
        )
        return annotate(meta)

    def _scan_ollama(self) -> list[ModelMetadata]:
        if not (self.ollama_models / "manifests").is_dir():
            log.debug("no Ollama store at %s", self.ollama_models)
            return []
        from ...storage.ollama_store import OllamaStore

        models = []
        for stored in OllamaStore(self.ollama_models).models():
            try:
                models.append(self._ollama_model(stored))
            except (OSError, ValueError) as exc:
                log.warning("skipping Ollama model %s: %s", stored.name, exc)
        return models

    def _ollama_model(self, stored: Any) -> ModelMetadata:
        blob: Path | None = stored.model_blob
        caps: list[str] = []
        fields: dict[str, Any] = {}
        extra: dict[str, Any] = {"origin": "ollama", "manifest": str(stored.manifest_path)}
        info = None
        if blob is not None and is_gguf(blob):
            try:
                info = read_gguf_info(blob)
            except GGUFError as exc:
                log.info("Ollama model %s: %s", stored.name, exc)
        if info is not None:
            caps += _gguf_capabilities(info)
            fields["parameters"] = info.parameter_count
            fields["architectures"] = (info.architecture,) if info.architecture else ()
            extra.update(_gguf_extra(info))
        else:  # a blob we cannot read: what the manifest's config says ("8.0B", "Q4_0")
            config = stored.config
            with contextlib.suppress(KeyError, ValueError):
                fields["parameters"] = parse_count(config["model_type"])
            family = config.get("model_family")
            if isinstance(family, str) and family:
                fields["architectures"] = (family,)
            if isinstance(config.get("file_type"), str):
                extra["quantization"] = config["file_type"]
        # what the layers show (a projector: vision; a template: completion), unless the
        # GGUF header already said embedding
        if "embedding" not in caps:
            caps += capabilities_from_media_types(stored.media_types)
        template = stored.template
        if template is not None:
            extra["template"] = template
            if ".Tools" in template:  # Ollama's own test: the template uses the tools
                caps.append("tools")
            if ".Suffix" in template:
                caps.append("insert")
        caps = list(dict.fromkeys(caps))
        extra["capabilities"] = caps
        if stored.params:
            extra["params"] = stored.params
        license_text = stored.license
        if license_text:
            from .ollama import license_id  # the ids the ollama source gives, too

            fields["license"] = license_id(license_text)
            first = next((ln.strip() for ln in license_text.splitlines() if ln.strip()), "")
            extra["license_title"] = first[:120]
        from ...storage.ollama_store import layer_files

        meta = ModelMetadata(
            id=stored.name,
            source=ModelSource.LOCAL,
            name=stored.model,
            author=None if stored.namespace == "library" else stored.namespace,
            version=stored.tag,
            tags=("gguf", "ollama"),
            library="gguf",
            size_bytes=stored.size,
            files=layer_files(stored.layers),
            local_path=str(blob) if blob is not None else None,
            updated_at=stored.modified_at,
            is_downloaded=blob is not None and blob.is_file(),
            extra=extra,
            **fields,
        )
        return annotate(meta, capabilities=caps)

    def _scan_paths(self) -> Iterator[ModelMetadata]:
        for root in self.paths:
            if root.is_file():
                if root.suffix.lower() == ".gguf":
                    meta = self._gguf_file(root, root.name)
                    if meta is not None:
                        yield meta
                else:
                    log.info("%s is neither a folder nor a .gguf file; not scanned", root)
            elif root.is_dir():
                yield from self._walk(root)
            else:
                log.debug("local path %s does not exist", root)

    def _walk(self, root: Path) -> Iterator[ModelMetadata]:
        for current, dirs, files in os.walk(root):
            here = Path(current)
            depth = len(here.relative_to(root).parts)
            rel = here.relative_to(root).as_posix() if here != root else root.name
            if "config.json" in files:
                dirs[:] = []  # a model's subfolders (1_Pooling, checkpoints) belong to it
                meta = self._folder_model(here, rel)
                if meta is not None:
                    yield meta
                continue
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".")
                and d not in _SKIP_DIRS
                and not _HF_CACHE_DIR.match(d)
                and depth < MAX_DEPTH
            )
            for name in sorted(files):
                if name.lower().endswith(".gguf") and not name.startswith("."):
                    file_id = (here / name).relative_to(root).as_posix()
                    meta = self._gguf_file(here / name, file_id)
                    if meta is not None:
                        yield meta

    def _folder_model(self, folder: Path, model_id: str) -> ModelMetadata | None:
        try:
            return self._read_folder_model(folder, model_id)
        except (_Skip, OSError) as exc:
            log.warning("skipping model folder %s: %s", folder, exc)
            return None

    def _read_folder_model(self, folder: Path, model_id: str) -> ModelMetadata | None:
        fields = _folder_fields(folder)
        has_weights = any(
            p.suffix in (".safetensors", ".bin", ".gguf", ".pt", ".pth") for p in folder.iterdir()
        )
        if not (fields.get("architectures") or fields["extra"].get("config_model_type")) and not (
            has_weights
        ):
            log.info("skipping %s: its config.json does not describe a model", folder)
            return None
        files = []
        total = 0
        latest = 0.0
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            stat = path.stat()
            total += stat.st_size
            latest = max(latest, stat.st_mtime)
            files.append(FileInfo(path=rel.as_posix(), size=stat.st_size))
        fields["extra"] = {"origin": "folder", **fields["extra"]}
        meta = ModelMetadata(
            id=model_id,
            source=ModelSource.LOCAL,
            name=folder.name,
            size_bytes=total,
            files=tuple(files),
            local_path=str(folder),
            updated_at=datetime.fromtimestamp(latest, tz=UTC) if latest else _mtime(folder),
            is_downloaded=True,
            **fields,
        )
        return annotate(meta)

    def _gguf_file(self, path: Path, model_id: str) -> ModelMetadata | None:
        try:
            info = read_gguf_info(path)
        except GGUFError as exc:
            log.warning("skipping %s: %s", path, exc)
            return None
        if info.architecture == "clip":  # a vision projector (mmproj), not a model
            log.info("skipping %s: a vision projector, not a model", path)
            return None
        tags = ["gguf"]
        if info.chat_template:
            tags.append("conversational")
        size = path.stat().st_size
        meta = ModelMetadata(
            id=model_id,
            source=ModelSource.LOCAL,
            name=info.name or path.stem,
            tags=tuple(tags),
            library="gguf",
            parameters=info.parameter_count,
            architectures=(info.architecture,) if info.architecture else (),
            size_bytes=size,
            files=(FileInfo(path=path.name, size=size),),
            local_path=str(path),
            updated_at=_mtime(path),
            is_downloaded=True,
            extra={"origin": "gguf", **_gguf_extra(info)},
        )
        return annotate(meta, capabilities=_gguf_capabilities(info))

    # -- Source -----------------------------------------------------------------------------
    def is_available(self) -> bool:
        """True: the local source needs no server (it may simply find nothing)."""
        return True

    def model_info(self, model_id: str) -> ModelMetadata:
        models = self.scan()
        found = find_by_id(models, model_id)
        if found is not None:
            return found
        if ":" not in model_id:  # Ollama's default tag
            for meta in models:
                if meta.extra.get("origin") == "ollama" and meta.id == f"{model_id}:latest":
                    return meta
        hint = did_you_mean(model_id, models)
        folders = ", ".join(str(p) for p in self.paths) or "none (set NBMODELS_LOCAL_PATHS)"
        raise ModelNotFoundError(
            f"No local model {model_id!r}.{hint} Looked in the Hugging Face cache "
            f"{self.hf_cache}, the Ollama store {self.ollama_models} and the folders: {folders}. "
            "Download it first, or add its folder to NBMODELS_LOCAL_PATHS."
        )
