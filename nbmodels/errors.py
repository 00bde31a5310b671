"""The one error tree of nbmodels.

Every error nbmodels raises on purpose derives from :class:`NBModelsError`. Leaves also
inherit the builtin they resemble, so ``except KeyError`` or ``except ConnectionError``
keeps working for code that does not know about nbmodels. Messages say what to do next.

    NBModelsError
    ├── ConfigurationError (ValueError)        bad settings / options typed by a person
    ├── InvalidModelIdError (ValueError)       malformed repo id or model name
    ├── UnknownSourceError (KeyError)          get_source("nope")
    ├── ModelNotFoundError (KeyError)          model_info() of a model that does not exist
    ├── SourceUnavailableError (ConnectionError)
    │   ├── HubUnreachableError                Hugging Face endpoint cannot be reached
    │   ├── OllamaNotRunningError              no Ollama server at OLLAMA_HOST
    │   └── SourceTimeoutError (TimeoutError)  a source answered too slowly (it may be running)
    ├── AccessDeniedError (PermissionError)    a source refused: no token, a bad token, or a
    │                                          gated repo whose licence must be accepted
    ├── CatalogError
    │   ├── CorruptCatalogError                the on-disk catalog cannot be read
    │   └── SQLError (ValueError)              nbmodels.sql() got something that is not a SELECT,
    │                                          or DuckDB rejected it
    ├── CustomCatalogError (ValueError)        a custom catalog file cannot be parsed at all
    ├── DownloadError                          a download failed
    │   ├── ChecksumMismatchError (ValueError) bytes that do not hash to the published sha
    │   ├── DownloadCancelledError             cancelled; starting again resumes
    │   ├── InsufficientSpaceError (OSError)   the disk cannot hold what is left to fetch
    │   └── UnsafePathError (ValueError)       a file name pointing outside the model folder
    ├── GGUFError (ValueError)                 a file is not GGUF, or its header is damaged
    ├── StorageError (OSError)                 nbmodels cannot write (or read) its own files:
    │   │                                      NBMODELS_HOME is a file, not writable, disk full
    │   └── LockTimeout (TimeoutError)         another process held a lock past the timeout
    │                                          (the message names it)
    ├── RegistryError                          the registry file cannot be opened, is newer,
    │                                          or an operation is refused (a dependency cycle)
    ├── LockfileError                          a lockfile cannot be read, or a pinned commit
    │                                          or file is gone upstream (sync refuses)
    ├── PackError (ValueError)                 a pack cannot be written or read: files missing,
    │                                          an archive truncated or tampered (names the file)
    └── EngineError                            (engine module)

Warnings (not errors) use :class:`NBModelsWarning` and its subclasses, e.g. a source that
failed during a multi-source search, or rows of a custom catalog that were skipped.
"""

from __future__ import annotations

import warnings

__all__ = [
    "AccessDeniedError",
    "BenchmarkWarning",
    "CatalogError",
    "ChecksumMismatchError",
    "ConfigurationError",
    "CorruptCatalogError",
    "CustomCatalogError",
    "CustomCatalogWarning",
    "DownloadCancelledError",
    "DownloadError",
    "EngineError",
    "EngineWarning",
    "ExportWarning",
    "FilterWarning",
    "GGUFError",
    "HubUnreachableError",
    "InsufficientSpaceError",
    "InvalidModelIdError",
    "LockTimeout",
    "LockfileError",
    "MirrorWarning",
    "ModelNotFoundError",
    "NBModelsError",
    "NBModelsWarning",
    "OllamaNotRunningError",
    "PackError",
    "RegistryError",
    "RegistryWarning",
    "SQLError",
    "SourceTimeoutError",
    "SourceUnavailableError",
    "SourceWarning",
    "StorageError",
    "TemplateWarning",
    "TruncatedWarning",
    "UnknownSourceError",
    "UnsafePathError",
    "VersionWarning",
]


class NBModelsError(Exception):
    """Base class of every error nbmodels raises on purpose."""

    def __str__(self) -> str:  # KeyError subclasses would otherwise repr() the message
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class ConfigurationError(NBModelsError, ValueError):
    """A setting or option has a value nbmodels cannot use."""


class InvalidModelIdError(NBModelsError, ValueError):
    """A model id is malformed (e.g. ``"org//name"`` or ``"a b"``)."""


class UnknownSourceError(NBModelsError, KeyError):
    """No source is registered under this name."""


class ModelNotFoundError(NBModelsError, KeyError):
    """The source has no model with this id."""


class SourceUnavailableError(NBModelsError, ConnectionError):
    """A source could not be reached."""


class HubUnreachableError(SourceUnavailableError):
    """The Hugging Face endpoint could not be reached."""


class OllamaNotRunningError(SourceUnavailableError):
    """No Ollama server answers at the configured host."""


class SourceTimeoutError(SourceUnavailableError, TimeoutError):
    """A source did not answer within the timeout (it may be running but busy or slow)."""


class AccessDeniedError(NBModelsError, PermissionError):
    """A source refused access. ``reason`` is ``"no-token"``, ``"bad-token"`` or ``"gated"``
    (a gated repo whose licence must be accepted on its page); ``model_id`` says which."""

    def __init__(self, message: str, *, reason: str, model_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.model_id = model_id

    def __str__(self) -> str:
        return str(self.args[0])


class CatalogError(NBModelsError):
    """Problem with the on-disk catalog of discovered models."""


class CorruptCatalogError(CatalogError):
    """The catalog file exists but cannot be read."""


class SQLError(CatalogError, ValueError):
    """A query given to :func:`nbmodels.sql` was rejected."""


class CustomCatalogError(NBModelsError, ValueError):
    """A custom catalog cannot be read at all (not a single usable row)."""


class GGUFError(NBModelsError, ValueError):
    """A file is not a GGUF file, or its header cannot be read."""


class StorageError(NBModelsError, OSError):
    """nbmodels cannot write or read one of its own files (``path`` says which)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0])


class DownloadError(NBModelsError):
    """A download failed."""


class ChecksumMismatchError(DownloadError, ValueError):
    """Downloaded bytes do not hash to what the source published (the bad bytes are gone)."""


class DownloadCancelledError(DownloadError):
    """The download was cancelled; what was fetched is kept, so starting again resumes."""


class InsufficientSpaceError(DownloadError, OSError):
    """Not enough free disk space for the files still to fetch."""


class UnsafePathError(DownloadError, ValueError):
    """A source named a file outside the model's folder (``..``, an absolute path)."""


class LockTimeout(StorageError, TimeoutError):
    """Another process held a store's lock for longer than the timeout (named in the message)."""


class RegistryError(NBModelsError):
    """The model registry rejected an operation or is damaged."""


class LockfileError(NBModelsError):
    """A lockfile cannot be written, read or honoured (a pinned commit or file is gone)."""


class EngineError(NBModelsError):
    """The inference engine could not load or run a model."""


class NBModelsWarning(UserWarning):
    """Base class of nbmodels warnings."""


class SourceWarning(NBModelsWarning):
    """A source failed during a multi-source operation; the others' results came back."""


class FilterWarning(NBModelsWarning):
    """A filter left rows out because they lack the value it tests (no known size...)."""


class TruncatedWarning(NBModelsWarning):
    """A source's answer stopped at a cap: more matches may exist there."""


class TemplateWarning(NBModelsWarning):
    """A user's configuration template could not be read and was skipped."""


class CustomCatalogWarning(NBModelsWarning):
    """Some rows of a custom catalog were skipped or repaired."""


# -- how nbmodels' warnings read --------------------------------------------------------------
_plain_formatwarning = warnings.formatwarning


def _format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """nbmodels' warnings as one readable line ("SourceWarning: ollama did not answer: ..."),
    without the file path inside nbmodels and the source line Python adds: the message says
    what happened and what to do, the location inside the package says nothing to a user.
    Every other warning keeps Python's format."""
    if isinstance(category, type) and issubclass(category, NBModelsWarning):
        return f"{category.__name__}: {message}\n"
    return _plain_formatwarning(message, category, filename, lineno, line)


def use_readable_warnings() -> None:
    """Show nbmodels' warnings as one line each (``import nbmodels`` does this once)."""
    global _plain_formatwarning
    if warnings.formatwarning is not _format_warning:
        _plain_formatwarning = warnings.formatwarning
        warnings.formatwarning = _format_warning  # type: ignore[assignment]


class VersionWarning(NBModelsWarning):
    """A lockfile was written with other versions of nbmodels, transformers or torch."""


class RegistryWarning(NBModelsWarning):
    """Something the registry could not record (the operation itself went through)."""


class EngineWarning(NBModelsWarning):
    """A setting the model's backend cannot carry (e.g. top_k over the OpenAI API): left out."""


class BenchmarkWarning(NBModelsWarning):
    """A benchmark or comparison left something out: a figure not measured, a candidate
    skipped or stopped, a card not stored."""


class ExportWarning(NBModelsWarning):
    """A setting the export target cannot express (it is left out of what was written)."""


class MirrorWarning(NBModelsWarning):
    """A download mirror was skipped: it served bytes that failed their hash."""


class PackError(NBModelsError, ValueError):
    """A pack cannot be written or read: a model's files are missing, the archive is
    truncated, a file's bytes do not match its digest, a member points outside the layout.
    The message names the model and the file."""
