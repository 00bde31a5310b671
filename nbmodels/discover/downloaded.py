"""Which Hub models are on disk now: the ``is_downloaded`` column of an answer as the Hugging
Face cache says at the time of asking, not as it was when the row was fetched."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..types import ModelSource


def hf_cached_repos(cache: Path) -> set[str]:
    """Repo ids with at least one snapshot in the Hugging Face cache at ``cache``: what is on
    disk now (a listing of folders, no hashing; ``nbmodels.verify`` checks the bytes)."""
    found: set[str] = set()
    try:
        entries = list(Path(cache).iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.startswith("models--"):
            continue
        snapshots = entry / "snapshots"
        try:
            if any(any(commit.iterdir()) for commit in snapshots.iterdir() if commit.is_dir()):
                found.add(entry.name.removeprefix("models--").replace("--", "/", 1))
        except OSError:
            continue
    return found


def _downloaded_from_disk(frame: pd.DataFrame, cache: Path) -> pd.DataFrame:
    """``is_downloaded`` of Hub rows as the disk says now, not as it was when the row was
    fetched (a flag stored then goes stale when a model is downloaded or deleted later)."""
    if not len(frame) or "is_downloaded" not in frame:
        return frame
    hub = frame["source"] == ModelSource.HUGGING_FACE.value
    if hub.any():
        frame.loc[hub, "is_downloaded"] = frame.loc[hub, "id"].isin(hf_cached_repos(cache))
    return frame
