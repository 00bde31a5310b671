"""The Hugging Face Hub as a model source, through the real ``huggingface_hub`` client.

    >>> hf = HuggingFaceSource()                       # HF_ENDPOINT / HF_TOKEN from the environment
    >>> hf.search("llama", task="chat", sort="downloads", limit=5)
    >>> hf.model_info("nbmodels-demo/tiny-llama-chat").parameters

Searches go to ``GET /api/models`` (server-side search, filters and sort; the client follows
the ``Link`` pages), ``model_info`` to ``GET /api/models/{id}?blobs=true`` plus the model's
README for a short description. Every Hub record, however odd (licence as a list, language as
a string, no safetensors, no dates...), becomes a :class:`~nbmodels.types.ModelMetadata`
through :func:`to_metadata` (:mod:`.hub_records`). Library errors never escape: they become
errors from :mod:`nbmodels.errors` whose messages say what to do next (:func:`hub_error`,
:mod:`.hub_errors`). The token never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import HfApi, ModelCard, ModelInfo
from huggingface_hub.errors import HFValidationError, RemoteEntryNotFoundError
from huggingface_hub.utils import build_hf_headers, get_session, validate_repo_id
from huggingface_hub.utils import tqdm as hf_tqdm

from ...errors import (
    AccessDeniedError,
    ConfigurationError,
    HubUnreachableError,
    InvalidModelIdError,
    NBModelsError,
)
from ...settings import Settings
from ...types import ModelMetadata, ModelSource, SupportedTask
from ..tasks import resolve_task
from .base import SORT_KEYS, Source, sort_models
from .hub_errors import _invalid_id, hub_error
from .hub_records import CHAT_TEMPLATE_FILES as CHAT_TEMPLATE_FILES
from .hub_records import _with_card, summarize_card, to_metadata

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

# Tasks the Hub cannot filter by tag: a word their repo ids contain (as nbmodels.discover.tasks detects them).
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

_README = "README.md"
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
        :data:`~nbmodels.discover.sources.base.SORT_KEYS`; the Hub sorts by downloads, likes,
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


class _QuietBar(hf_tqdm):  # type: ignore[misc]
    """huggingface_hub's progress bar, switched off (for small files fetched on the side)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


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
