"""Downloads of models, in the background, resumable and verified, and model lockfiles.

The package is ``downloader``, not ``download``: a submodule named like the function
``nbmodels.download`` would replace that function on the package once imported.

Its modules, one concept each:

* :mod:`~nbmodels.downloader.core`: :class:`Downloader` (planning, running, transfers,
  verify) and the module functions :func:`download`, :func:`downloads`, :func:`verify`,
  :func:`downloaded_models`, :func:`default_downloader`;
* :mod:`~nbmodels.downloader.plan`: what a download would fetch (:class:`RemoteFile`,
  :class:`PlannedFile`, :class:`DownloadPlan`, :class:`VerifyReport`) and the checks on
  names from a server (:func:`safe_relative_path`, :func:`repo_folder`);
* :mod:`~nbmodels.downloader.task`: :class:`DownloadTask`, a download running in the
  background (progress, wait, cancel, cleanup, restart);
* :mod:`~nbmodels.downloader.http`: one file over HTTP (:class:`Throttle`, the shared
  bandwidth limit; redirects, the token, the hash fed as bytes arrive);
* :mod:`~nbmodels.downloader.layout`: where the bytes live on disk (the HF cache, a
  ``local_dir``, Ollama's store), partial files and publishing;
* :mod:`~nbmodels.downloader.ollama`: Ollama pulls, through its API or from its registry;
* :mod:`~nbmodels.downloader.lease`: :class:`Lease`, one writer per blob across processes;
* :mod:`~nbmodels.downloader.lockfile`: ``nbmodels.lock`` / ``nbmodels.sync``.

Importing the package is cheap: the standard library and nbmodels' own light modules only
(pandas, tqdm, huggingface_hub and ollama are imported when first used).
"""

from __future__ import annotations

from .core import (
    Downloader,
    default_downloader,
    download,
    downloaded_models,
    downloads,
    verify,
)
from .http import Throttle
from .lease import Lease
from .plan import (
    LOCK_SUFFIX,
    PARTIAL_SUFFIX,
    DownloadPlan,
    PlannedFile,
    RemoteFile,
    VerifyReport,
    repo_folder,
    safe_relative_path,
)
from .task import DownloadTask

__all__ = [
    "LOCK_SUFFIX",
    "PARTIAL_SUFFIX",
    "DownloadPlan",
    "DownloadTask",
    "Downloader",
    "Lease",
    "PlannedFile",
    "RemoteFile",
    "Throttle",
    "VerifyReport",
    "default_downloader",
    "download",
    "downloaded_models",
    "downloads",
    "repo_folder",
    "safe_relative_path",
    "verify",
]
