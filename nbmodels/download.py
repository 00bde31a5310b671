"""Downloads (planned: next issue). Room for the seed's ``ModelDownloadManager``.

Will own: non-blocking downloads into the standard Hugging Face cache (so ``transformers``
finds the files offline) and Ollama pulls, with progress events, cancel, resume after a
crash, concurrency and bandwidth limits, and sha256 verification. Records used:
:class:`nbmodels.types.DownloadProgress`, :class:`nbmodels.types.DownloadStatus`.
"""
