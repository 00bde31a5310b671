"""What a failure of the Hugging Face Hub means, said as an nbmodels error: :func:`hub_error`
maps every ``huggingface_hub`` (and HTTP client) error to one from :mod:`nbmodels.errors`
whose message says what to do next, with the token scrubbed."""

from __future__ import annotations

import json

import httpx2
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

from ...errors import (
    AccessDeniedError,
    ConfigurationError,
    HubUnreachableError,
    InvalidModelIdError,
    ModelNotFoundError,
    NBModelsError,
)

__all__ = ["hub_error"]


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
