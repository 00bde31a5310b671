"""The Hugging Face Hub as a model source, through the real ``huggingface_hub`` client.

    >>> hf = HuggingFaceSource()                       # HF_ENDPOINT / HF_TOKEN from the environment
    >>> hf.search("llama", task="chat", sort="downloads", limit=5)
    >>> hf.model_info("nbmodels-demo/tiny-llama-chat").parameters

Searches go to ``GET /api/models`` (server-side search, filters and sort; the client follows
the ``Link`` pages), ``model_info`` to ``GET /api/models/{id}?blobs=true`` plus the model's
README for a short description. Every Hub record, however odd (licence as a list, language as
a string, no safetensors, no dates...), becomes a :class:`~nbmodels.types.ModelMetadata`
through :func:`to_metadata`. Library errors never escape: they become errors from
:mod:`nbmodels.errors` whose messages say what to do next. The token never appears in a
repr, a log line or an error message.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import HfApi, ModelCard, ModelInfo
from huggingface_hub.errors import (
    BadRequestError,
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, get_session, validate_repo_id
from huggingface_hub.utils import tqdm as hf_tqdm

from ..errors import (
    AccessDeniedError,
    ConfigurationError,
    HubUnreachableError,
    InvalidModelIdError,
    ModelNotFoundError,
    NBModelsError,
)
from ..settings import Settings
from ..tasks import annotate, resolve_task
from ..types import FileInfo, ModelMetadata, ModelSource, SupportedTask
from ..weights import bytes_from_parameters
from .base import SORT_KEYS, Source, sort_models

__all__ = [
    "CLIENT_SORT_POOL",
    "HUB_TASK_FILTERS",
    "HuggingFaceSource",
    "hub_error",
    "summarize_card",
    "to_metadata",
]

logger = logging.getLogger(__name__)

T = SupportedTask

#: How each task is asked of the Hub: one ``/api/models`` query per tuple of filter tags
#: (tags within a tuple must all match; the queries' results are merged). Pipeline tags are
#: the Hub's own task names.
HUB_TASK_FILTERS: dict[SupportedTask, tuple[tuple[str, ...], ...]] = {
    T.TEXT_GENERATION: (("text-generation",), ("text2text-generation",)),
    T.CHAT: (("text-generation", "conversational"),),
    T.TEXT_CLASSIFICATION: (
        ("text-classification",),
        ("token-classification",),
        ("zero-shot-classification",),
    ),
    T.QUESTION_ANSWERING: (("question-answering",), ("table-question-answering",)),
    T.SUMMARIZATION: (("summarization",),),
    T.TRANSLATION: (("translation",),),
    T.EMBEDDING: (("feature-extraction",), ("sentence-similarity",)),
    T.IMAGE_CAPTIONING: (("image-to-text",), ("image-text-to-text",)),
    T.IMAGE_GENERATION: (("text-to-image",),),
    T.AUDIO_TRANSCRIPTION: (("automatic-speech-recognition",),),
    T.AUDIO_GENERATION: (("text-to-speech",), ("text-to-audio",)),
    T.CODE_GENERATION: (("text-generation",),),
    T.CODE_COMPLETION: (("text-generation",),),
    # the Hub has no RAG pipeline: models tagged "rag", and rerankers (text-ranking)
    T.RAG: (("rag",), ("text-ranking",)),
    T.MULTIMODAL_REASONING: (("image-text-to-text",), ("visual-question-answering",)),
}

# Tasks the Hub cannot filter by tag: a word their repo ids contain (as nbmodels.tasks detects them).
_TASK_WORD = {T.CODE_GENERATION: "code", T.CODE_COMPLETION: "code"}

# nbmodels sort key -> huggingface_hub's ModelSort_T (the client sends the Hub's own names:
# trendingScore, createdAt, lastModified). The others are sorted here.
_HUB_SORT = {
    "downloads": "downloads",
    "likes": "likes",
    "trending": "trending_score",
    "created": "created_at",
    "updated": "last_modified",
}
#: Sorts the Hub cannot do ("parameters", "size", "name") look at this many of the most
#: downloaded matches, then sort them here.
CLIENT_SORT_POOL = 1000

# Language codes, to pick languages out of tags when a record has no card data. No ISO 639
# table is among nbmodels' dependencies (babel or langcodes would be one just for this), so
# the two-letter ISO 639-1 codes are listed here, with the three-letter codes the Hub uses.
_ISO639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu
    cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
    hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv
    kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr
    nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq
    sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
    yi yo za zh zu""".split()  # noqa: SIM905 - a table, kept compact
)
_ISO639_3 = frozenset(
    """ara ceb deu doi eng fil fon fra haw hmn ita jpn kok kor mai mni nso por rus sat spa
    tha tum vie yue zho""".split()  # noqa: SIM905
)

_README = "README.md"
_DESCRIPTION_CHARS = 300
_PROBE_TTL = 60.0  # seconds a successful reachability probe is trusted


class HuggingFaceSource(Source):
    """Models on a Hugging Face Hub (``huggingface.co`` or any endpoint that speaks its API).

    ``endpoint`` and ``token`` override ``settings.hf_endpoint`` and ``settings.hf_token``.
    """

    name = "huggingface"
    kind = ModelSource.HUGGING_FACE

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        endpoint: str | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(settings)
        changes: dict[str, object] = {}
        if endpoint is not None:
            changes["hf_endpoint"] = endpoint
        if token is not None:
            changes["hf_token"] = token
        if changes:
            self.settings = self.settings.with_(**changes)
        self._api = HfApi(
            endpoint=self.settings.hf_endpoint,
            token=self.settings.hf_token,
            library_name="nbmodels",
        )
        self._reachable_at: float | None = None

    @property
    def endpoint(self) -> str:
        return self.settings.hf_endpoint

    def __repr__(self) -> str:  # the token never appears, only whether one is set
        token = "set" if self.settings.hf_token else "none"
        offline = ", offline" if self.settings.offline else ""
        return f"<HuggingFaceSource endpoint={self.endpoint!r} token=<{token}>{offline}>"

    # -- availability ---------------------------------------------------------------------
    def is_available(self) -> bool:
        """Whether the endpoint answers a one-model listing within a few seconds (never raises)."""
        if self.settings.offline:
            return False
        try:
            response = self._probe(timeout=min(self.settings.timeout, 3.0))
        except Exception:  # "never raises" is the contract
            return False
        return response.status_code == 200

    def _probe(self, *, timeout: float) -> httpx2.Response:
        # list_models() has no timeout and retries a refused connection five times with
        # ~23 s of back-off sleeps; one quick request first makes "unreachable" fail fast.
        return get_session().get(
            f"{self.endpoint}/api/models",
            params={"limit": 1},
            headers=build_hf_headers(token=self.settings.hf_token, library_name="nbmodels"),
            timeout=timeout,
        )

    def _check_offline(self) -> None:
        if self.settings.offline:
            raise HubUnreachableError(
                f"Offline mode is on (NBMODELS_OFFLINE or HF_HUB_OFFLINE), so the Hugging Face "
                f"Hub at {self.endpoint} is not asked. Unset it to search the Hub, or use the "
                "local and cached models."
            )

    def _ensure_reachable(self) -> None:
        self._check_offline()
        now = time.monotonic()
        if self._reachable_at is not None and now - self._reachable_at < _PROBE_TTL:
            return
        try:
            response = self._probe(timeout=self.settings.timeout)
        except Exception as err:  # every failure becomes one of ours
            raise self._map_error(err) from None
        if response.status_code >= 500:  # list_models() would retry these with sleeps too
            raise HubUnreachableError(
                f"The Hugging Face Hub at {self.endpoint} answered with HTTP "
                f"{response.status_code}: try again later, set HF_ENDPOINT to another Hub, "
                "or work offline."
            )
        self._reachable_at = now

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        query: str | None = None,
        *,
        author: str | None = None,
        tags: tuple[str, ...] = (),
        task: SupportedTask | str | None = None,
        sort: str | None = None,
        limit: int | None = 100,
    ) -> list[ModelMetadata]:
        """Models whose id contains ``query`` (case-insensitive), with all ``tags``.

        ``task`` becomes the Hub's pipeline tags (:data:`HUB_TASK_FILTERS`; several queries
        are merged, most downloaded first unless ``sort`` says otherwise). ``sort`` is one of
        :data:`~nbmodels.sources.base.SORT_KEYS`; the Hub sorts by downloads, likes,
        trending, created and updated itself, the rest are sorted here among the
        :data:`CLIENT_SORT_POOL` most downloaded matches. ``limit=None`` pages through all.
        """
        if sort is not None and sort not in SORT_KEYS:
            raise ConfigurationError(
                f"Unknown sort {sort!r}. Choose one of: {', '.join(SORT_KEYS)}."
            )
        if limit is not None and limit < 0:
            raise ConfigurationError(f"limit must be a positive number or None, got {limit!r}.")
        if isinstance(tags, str):
            tags = (tags,)
        wanted = resolve_task(task) if task is not None else None
        parsed_task = wanted.task if wanted is not None else None
        if limit == 0:
            return []
        self._ensure_reachable()

        queries: tuple[tuple[str, ...], ...] = ((),)
        if wanted is not None:  # a seed task, else the pipeline tag or tag asked for itself
            filter_tag = wanted.pipeline_tag or wanted.tag
            queries = HUB_TASK_FILTERS[parsed_task] if parsed_task else ((str(filter_tag),),)
        word = _TASK_WORD.get(parsed_task) if parsed_task else None
        server_query, post_filter = query, None
        if word:  # the Hub searches one string: send the task's word, filter the query here
            server_query, post_filter = word, (query.lower() if query else None)
        hub_sort = _HUB_SORT.get(sort) if sort else None
        client_sort = sort if sort and hub_sort is None else None
        fetch = limit
        if client_sort or post_filter:
            hub_sort = "downloads"
            fetch = None if limit is None else max(limit, CLIENT_SORT_POOL)

        found: dict[str, ModelMetadata] = {}
        for filters in queries:
            for info in self._list_models(
                search=server_query,
                author=author,
                filter=[*tags, *filters],
                sort=hub_sort,
                limit=fetch,
            ):
                if post_filter and post_filter not in info.id.lower():
                    continue
                if info.id not in found:
                    found[info.id] = to_metadata(info, endpoint=self.endpoint)
        results = list(found.values())
        if client_sort or len(queries) > 1 or post_filter:
            results = sort_models(results, sort or "downloads")
        return results if limit is None else results[:limit]

    def _list_models(self, **kwargs: Any) -> Iterator[ModelInfo]:
        try:
            yield from self._api.list_models(full=True, cardData=True, **kwargs)
        except Exception as err:  # every failure becomes one of ours
            raise self._map_error(err) from None

    def popular(self, limit: int | None = 50) -> list[ModelMetadata]:
        return self.search(sort="downloads", limit=limit)

    def trending(self, limit: int | None = 50) -> list[ModelMetadata]:
        return self.search(sort="trending", limit=limit)

    def by_author(self, author: str, limit: int | None = 100) -> list[ModelMetadata]:
        return self.search(author=author, sort="downloads", limit=limit)

    def by_tag(self, tag: str, limit: int | None = 100) -> list[ModelMetadata]:
        return self.search(tags=(tag,), sort="downloads", limit=limit)

    def by_task(self, task: SupportedTask | str, limit: int | None = 100) -> list[ModelMetadata]:
        return self.search(task=task, sort="downloads", limit=limit)

    # -- one model --------------------------------------------------------------------------
    def model_info(
        self, model_id: str, *, revision: str | None = None, files: bool = True
    ) -> ModelMetadata:
        """Everything the Hub says about ``model_id``: files with sizes and hashes, licence,
        parameters, and a short description from the model card.

        Raises InvalidModelIdError, ModelNotFoundError (unknown, private, gated, or unknown
        ``revision``) or HubUnreachableError.
        """
        self._check_offline()
        repo_id = self._repo_id(model_id)
        try:
            info = self._api.model_info(
                repo_id, revision=revision, files_metadata=files, timeout=self.settings.timeout
            )
        except Exception as err:  # every failure becomes one of ours
            mapped = self._map_error(err, repo_id=repo_id, revision=revision)
            status = getattr(getattr(err, "response", None), "status_code", None)
            if revision is not None or status != 404 or isinstance(mapped, AccessDeniedError):
                raise mapped from None
            # some mirrors answer only /api/models/{id}/revision/main: ask there once more
            try:
                info = self._api.model_info(
                    repo_id, revision="main", files_metadata=files, timeout=self.settings.timeout
                )
            except Exception:
                raise mapped from None
        self._reachable_at = time.monotonic()
        meta = to_metadata(info, endpoint=self.endpoint, with_files=files)
        card = self._card(info, revision=revision) if files else None
        if card is not None:
            meta = _with_card(meta, card)
        return meta

    def _repo_id(self, model_id: str) -> str:
        if not isinstance(model_id, str):
            raise InvalidModelIdError(
                f"A model id is a string like 'org/name', got {type(model_id).__name__}."
            )
        repo_id = model_id.strip()
        for prefix in (f"{self.endpoint}/", "https://huggingface.co/", "hf://"):
            if repo_id.startswith(prefix):  # a pasted model page URL
                repo_id = repo_id[len(prefix) :].strip("/")
        try:
            validate_repo_id(repo_id)
        except HFValidationError:
            raise _invalid_id(model_id) from None
        if not repo_id:
            raise _invalid_id(model_id)
        return repo_id

    def _card(self, info: ModelInfo, *, revision: str | None) -> ModelCard | None:
        """The model card (README.md), when the repo has one; None when it cannot be read.

        The card is an extra: a model whose card fails to download still has its metadata.
        """
        names = {s.rfilename for s in info.siblings or ()}
        if _README not in names:
            return None
        try:
            path = self._api.hf_hub_download(
                info.id,
                _README,
                revision=info.sha or revision,
                cache_dir=self.settings.hf_cache,
                etag_timeout=self.settings.timeout,
                tqdm_class=_QuietBar,  # a card of a few kB needs no progress bar in the cell
            )
            return ModelCard.load(Path(path), ignore_metadata_errors=True)
        except Exception as err:  # the card is optional
            logger.info("model card of %s not read: %s", info.id, type(err).__name__)
            return None

    # -- errors -----------------------------------------------------------------------------
    def _map_error(
        self, err: BaseException, *, repo_id: str | None = None, revision: str | None = None
    ) -> NBModelsError:
        return hub_error(
            err,
            endpoint=self.endpoint,
            repo_id=repo_id,
            revision=revision,
            token=self.settings.hf_token,
        )


def hub_error(
    err: BaseException,
    *,
    endpoint: str,
    repo_id: str | None = None,
    revision: str | None = None,
    token: str | None = None,
) -> NBModelsError:
    """The nbmodels error for an error of ``huggingface_hub`` (or its HTTP client), with a
    message that says what to do next. ``token`` is scrubbed from any text passed on.

    Unknown exception types are re-raised as they are: they are bugs, not Hub answers.
    """
    if isinstance(err, NBModelsError):
        return err
    where = endpoint.rstrip("/")

    def detail() -> str:
        text = _short(err)
        return text.replace(token, "<token>") if token else text

    if isinstance(err, HFValidationError):
        return _invalid_id(repo_id or "")
    if isinstance(err, GatedRepoError):
        return AccessDeniedError(
            f"{repo_id!r} on {where} is gated: accept its licence at {where}/{repo_id} "
            "while logged in, then set HF_TOKEN to a token of that account "
            f"({where}/settings/tokens).",
            reason="gated",
            model_id=repo_id,
        )
    if isinstance(err, RevisionNotFoundError):
        return ModelNotFoundError(
            f"{repo_id!r} on {where} has no revision {revision!r}. Use a branch, tag or "
            "commit that exists, or leave revision unset for 'main'."
        )
    if isinstance(err, (RepositoryNotFoundError, DisabledRepoError)):
        return ModelNotFoundError(
            f"No model {repo_id!r} on {where}. Check the id (search for it first), "
            "or set HF_TOKEN if the model is private or gated."
        )
    if isinstance(err, RemoteEntryNotFoundError):
        return ModelNotFoundError(
            f"{repo_id!r} on {where} has no such file ({detail()}). Check the file name "
            "against the files model_info() lists."
        )
    if isinstance(err, OfflineModeIsEnabled):
        return HubUnreachableError(
            f"Cannot reach the Hugging Face Hub at {where}: huggingface_hub is in offline "
            "mode (HF_HUB_OFFLINE was set when it was imported). Restart without it, or "
            "work offline with local and cached models."
        )
    if isinstance(err, BadRequestError):
        return ConfigurationError(
            f"The Hub at {where} rejected the request: {detail()}. "
            "Check the search filters and sort."
        )
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if err.response is not None else "?"
        if status in (401, 403):
            what = f"{repo_id!r} on {where}" if repo_id else f"The Hub at {where}"
            if not token:
                return AccessDeniedError(
                    f"{what} needs a token (HTTP {status}): create one at "
                    f"{where}/settings/tokens and set HF_TOKEN to it (or run `hf auth login`).",
                    reason="no-token",
                    model_id=repo_id,
                )
            return AccessDeniedError(
                f"{what} refused the token in HF_TOKEN (HTTP {status}): it is expired, "
                f"revoked or lacks access to this repo. Make a new one at "
                f"{where}/settings/tokens and set HF_TOKEN to it.",
                reason="bad-token",
                model_id=repo_id,
            )
        if status == 404:
            hint = "set HF_ENDPOINT to the base URL of a Hub, e.g. https://huggingface.co"
        else:
            hint = "try again later, set HF_ENDPOINT to another Hub, or work offline"
        return HubUnreachableError(
            f"The Hugging Face Hub at {where} answered with HTTP {status}: {hint}."
        )
    if isinstance(err, (httpx2.RequestError, ConnectionError, TimeoutError, OSError)):
        return HubUnreachableError(
            f"Cannot reach the Hugging Face Hub at {where}: {detail()}. "
            "Check the network, set HF_ENDPOINT (or NBMODELS_HF_ENDPOINT) to a Hub that "
            "answers, or work offline (NBMODELS_OFFLINE=1) with local and cached models."
        )
    if isinstance(err, json.JSONDecodeError):
        return HubUnreachableError(
            f"{where} answered, but not like a Hugging Face Hub (the reply is not JSON). "
            "Set HF_ENDPOINT to the Hub's base URL, e.g. https://huggingface.co."
        )
    raise err  # a bug of ours or of the library: let it surface as it is


def _invalid_id(model_id: str) -> InvalidModelIdError:
    return InvalidModelIdError(
        f"{model_id!r} is not a valid Hugging Face model id. Repo ids look like 'org/name' "
        "(letters, digits, '-', '_' and '.'; no spaces, no '//', '--' or '..')."
    )


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


# -- converting records ---------------------------------------------------------------------


def to_metadata(
    info: ModelInfo, *, endpoint: str = "https://huggingface.co", with_files: bool = True
) -> ModelMetadata:
    """A :class:`ModelMetadata` (tasks and model type detected) for one Hub record.

    Tolerant of every shape the Hub sends: missing card data, licence as a list, language
    as a string or a list, no safetensors, no dates, unknown keys.
    """
    model_id = str(info.id)
    card = _card_dict(getattr(info, "card_data", None))
    tags = tuple(str(t) for t in (getattr(info, "tags", None) or ()) if t)
    siblings = list(getattr(info, "siblings", None) or ()) if with_files else []
    files = tuple(
        FileInfo(
            path=str(s.rfilename),
            size=_int(getattr(s, "size", None)),
            sha256=_lfs_sha256(getattr(s, "lfs", None)),
        )
        for s in siblings
        if getattr(s, "rfilename", None)
    )
    # the files' own sizes where every one is known; else the weights' exact size from the
    # safetensors parameter counts per dtype (listings carry those, not the files); else the
    # repo's storage as the Hub reports it
    if files and all(f.size is not None for f in files):
        size_bytes: int | None = sum(f.size or 0 for f in files)
    else:
        size_bytes = bytes_from_parameters(
            _get(getattr(info, "safetensors", None), "parameters")
        ) or _int(getattr(info, "used_storage", None))
    gguf = getattr(info, "gguf", None)
    gguf = gguf if isinstance(gguf, Mapping) else _json_dict(gguf)
    extra: dict[str, Any] = {}
    for key, value in (
        ("gated", getattr(info, "gated", None)),
        ("private", getattr(info, "private", None)),
        ("downloads_all_time", _int(getattr(info, "downloads_all_time", None))),
        ("license_name", _str(card.get("license_name"))),
        ("base_models", _base_models(card, getattr(info, "base_models", None)) or None),
        ("context_length", _int(gguf.get("context_length")) if gguf else None),
        ("has_chat_template", True if _has_chat_template(info, gguf) else None),
    ):
        if value is not None:
            extra[key] = value
    meta = ModelMetadata(
        id=model_id,
        source=ModelSource.HUGGING_FACE,
        name=model_id.rsplit("/", 1)[-1],
        author=_str(getattr(info, "author", None))
        or (model_id.split("/", 1)[0] if "/" in model_id else None),
        license=_license(tags, card.get("license")),
        version=_str(getattr(info, "sha", None)),
        language=_languages(card, tags, has_card=getattr(info, "card_data", None) is not None),
        tags=tags,
        parameters=_parameters(getattr(info, "safetensors", None), gguf),
        size_bytes=size_bytes,
        downloads=_int(getattr(info, "downloads", None)),
        likes=_int(getattr(info, "likes", None)),
        trending_score=_float(getattr(info, "trending_score", None)),
        created_at=_datetime(getattr(info, "created_at", None)),
        updated_at=_datetime(getattr(info, "last_modified", None)),
        pipeline_tag=_str(getattr(info, "pipeline_tag", None)),
        library=_str(getattr(info, "library_name", None)),
        architectures=_architectures(getattr(info, "config", None)),
        files=files,
        download_url=f"{endpoint.rstrip('/')}/{model_id}",
        extra=extra,
    )
    return annotate(meta)


def _with_card(meta: ModelMetadata, card: ModelCard) -> ModelMetadata:
    """``meta`` with a description from the card's body, and licence/language from its
    front matter where the Hub record had none."""
    import dataclasses

    data = _card_dict(card.data)
    return dataclasses.replace(
        meta,
        description=meta.description or summarize_card(card.text or ""),
        license=meta.license or _license((), data.get("license")),
        language=meta.language or _languages(data, (), has_card=True),
    )


_FRONT_MATTER = re.compile(r"\A\s*---\s*\n.*?\n---\s*\n", re.S)
_MARKUP_LINE = re.compile(r"^\s*(#|<|!\[|\[!\[|\||```|>\s*\[!|-{3,}|={3,}|\*{3,})")


def summarize_card(text: str, *, max_chars: int = _DESCRIPTION_CHARS) -> str:
    """The first paragraph of prose of a model card body (front matter, headings, badges,
    HTML, tables and code skipped), shortened to ``max_chars``."""
    body = _FRONT_MATTER.sub("", text, count=1)
    paragraph: list[str] = []
    in_code = False
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            if paragraph:
                break
            continue
        if in_code:
            continue
        if not stripped or _MARKUP_LINE.match(stripped):
            if paragraph:
                break
            continue
        paragraph.append(stripped)
    summary = " ".join(paragraph)
    summary = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", summary)  # inline images
    summary = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", summary)  # links -> their text
    summary = re.sub(r"(\*\*|__|`)", "", summary)  # bold and code marks
    summary = re.sub(r"\s+", " ", summary).strip()
    if len(summary) > max_chars:
        summary = summary[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return summary


_CARD_KEYS = ("license", "license_name", "language", "base_model")


def _card_dict(card: Any) -> dict[str, Any]:
    """The card-data keys nbmodels reads, from a dict, a CardData or JSON text."""
    if card is None:
        return {}
    if isinstance(card, str):
        card = _json_dict(card)
    get = getattr(card, "get", None)  # Mapping and CardData both have .get
    if not callable(get):
        return {}
    try:
        return {key: get(key) for key in _CARD_KEYS}
    except Exception:  # odd card data is no reason to fail
        return {}


def _json_dict(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _license(tags: Iterable[str], card_license: Any) -> str | None:
    """From ``license:`` tags (the Hub's normalised form) or the card; lower-case; several
    licences joined with ", "."""
    values = [t.split(":", 1)[1] for t in tags if t.lower().startswith("license:")]
    if not values:
        if isinstance(card_license, str):
            values = [card_license]
        elif isinstance(card_license, (list, tuple)):
            values = [v for v in card_license if isinstance(v, str)]
    cleaned = list(dict.fromkeys(v.strip().lower() for v in values if v and v.strip()))
    return ", ".join(cleaned) or None


def _languages(card: Mapping[str, Any], tags: Iterable[str], *, has_card: bool) -> tuple[str, ...]:
    value = card.get("language")
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, (list, tuple)):
        values = [v for v in value if isinstance(v, str)]
    elif not has_card:  # no card data at all: the Hub copies card languages into the tags
        values = [t for t in tags if t in _ISO639_1 or t in _ISO639_3]
    else:
        values = []
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _parameters(safetensors: Any, gguf: Mapping[str, Any] | None) -> int | None:
    total = None
    if safetensors is not None:
        total = _int(_get(safetensors, "total"))
        if total is None:
            per_dtype = _get(safetensors, "parameters")
            if isinstance(per_dtype, Mapping):
                counts = [_int(v) for v in per_dtype.values()]
                total = sum(c for c in counts if c) or None
    if total is None and gguf:
        total = _int(gguf.get("total"))
    return total if total else None


class _QuietBar(hf_tqdm):  # type: ignore[misc]
    """huggingface_hub's progress bar, switched off (for small files fetched on the side)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


#: files in which transformers keeps chat templates (it writes chat_template.jinja now)
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def _has_chat_template(info: ModelInfo, gguf: Mapping[str, Any] | None) -> bool:
    """Whether the record shows a chat template: a chat template file among the repo's files,
    config's tokenizer_config, or the GGUF's.

    Listings often leave all of them out, so False means "not shown", never "has none"."""
    for sibling in getattr(info, "siblings", None) or ():
        name = str(getattr(sibling, "rfilename", "") or "")
        if name in CHAT_TEMPLATE_FILES or name.startswith("additional_chat_templates/"):
            return True
    config = getattr(info, "config", None)
    tokenizer_config = config.get("tokenizer_config") if isinstance(config, Mapping) else None
    if isinstance(tokenizer_config, Mapping) and tokenizer_config.get("chat_template"):
        return True
    return bool(gguf and gguf.get("chat_template"))


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _lfs_sha256(lfs: Any) -> str | None:
    if lfs is None:
        return None
    value = _get(lfs, "sha256") or _get(lfs, "oid")
    return value if isinstance(value, str) and len(value) == 64 else None


def _architectures(config: Any) -> tuple[str, ...]:
    if not isinstance(config, Mapping):
        return ()
    value = config.get("architectures")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v)


def _base_models(card: Mapping[str, Any], base_models: Any) -> list[str]:
    value = card.get("base_model")
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    # hub-stats shape: {"relation": ..., "models": [{"id": ...}]}
    models = _get(base_models, "models") if base_models is not None else None
    if isinstance(models, (list, tuple)):
        return [str(m["id"]) for m in models if isinstance(m, Mapping) and m.get("id")]
    return []


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    return None


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def fetch_small_files(
    repo_id: str,
    filenames: Iterable[str],
    *,
    settings: Settings,
    revision: str | None = None,
    required: str | None = "config.json",
) -> Path | None:
    """Fetch a few small files of ``repo_id`` (``config.json``, ``generation_config.json``...)
    into the HF cache, where transformers would put them, without progress bars, and return
    the snapshot folder that holds them (None when none exists upstream). A missing
    ``required`` file is an error that says so; the others are optional. Hub failures become
    nbmodels errors (:func:`hub_error`)."""
    from huggingface_hub import hf_hub_download

    folder: Path | None = None
    for name in filenames:
        try:
            path = hf_hub_download(
                repo_id, name, revision=revision, endpoint=settings.hf_endpoint,
                cache_dir=settings.hf_cache, token=settings.hf_token, tqdm_class=_QuietBar,
            )  # fmt: skip
        except RemoteEntryNotFoundError:
            if name == required:
                raise ConfigurationError(
                    f"{repo_id!r} has no {name} on {settings.hf_endpoint}: it is not a "
                    "transformers model (a GGUF-only repo? estimate from the .gguf file)."
                ) from None
            continue
        except Exception as exc:  # every Hub failure becomes one of ours (or re-raises a bug)
            raise hub_error(
                exc, endpoint=settings.hf_endpoint, repo_id=repo_id, revision=revision,
                token=settings.hf_token,
            ) from None  # fmt: skip
        folder = Path(path).parent
    return folder
