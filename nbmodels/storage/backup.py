"""Backing the registry up and restoring it: one file that holds the registry and, for the
home's registry, the home's stored configurations; a restore checks it all before changing
anything and moves the configuration files it replaces aside, never deleting them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ..config.stored import _configuration_from, _store_lock, load_configuration
from ..errors import ConfigurationError, RegistryError
from ..files import atomic_write, ensure_dir, storage_error
from ..settings import Settings
from .backend import RegistryBackend

__all__ = ["RestoreReport"]


class RestoreReport(int):
    """What :meth:`Registry.restore` did. As a number: the entries the registry now holds.

    ``replaced_entries``: how many it held before (None: it could not be read);
    ``configurations``: the models whose stored configuration came from the backup;
    ``moved_aside``: the home's configuration files set aside in ``moved_to``."""

    replaced_entries: int | None
    configurations: list[str]
    moved_aside: list[Path]
    moved_to: Path | None

    def __new__(
        cls,
        entries: int,
        *,
        replaced_entries: int | None = None,
        configurations: Sequence[str] = (),
        moved_aside: Sequence[Path] = (),
        moved_to: Path | None = None,
    ) -> RestoreReport:
        report = super().__new__(cls, entries)
        report.replaced_entries = replaced_entries
        report.configurations = list(configurations)
        report.moved_aside = list(moved_aside)
        report.moved_to = moved_to
        return report

    @property
    def entries(self) -> int:
        return int(self)

    def __str__(self) -> str:  # f"restored {report} entries" reads as before
        return int.__repr__(self)

    def __repr__(self) -> str:
        was = "?" if self.replaced_entries is None else self.replaced_entries
        text = f"<RestoreReport: {int(self)} entries (replacing {was}); {len(self.configurations)} configuration(s) from the backup"  # fmt: skip
        if self.moved_aside:
            names = ", ".join(p.name for p in self.moved_aside)
            text += f"; the home's {names} set aside in {self.moved_to}"
        return text + ">"


def backup_configurations(store: RegistryBackend, source: Path) -> dict[str, str] | None:
    """The stored configurations a backup holds (file name -> YAML), each checked; None for
    a backup without them (written before they went in) or a file that is no database
    (``restore_from`` says so). RegistryError when one cannot be restored."""
    rows = store.backup_files(source)
    if rows is None:
        return None
    import yaml

    found: dict[str, str] = {}
    for name, text in rows:
        try:
            if not isinstance(name, str) or Path(name).name != name or not name.endswith(".yaml") or name.startswith("."):  # fmt: skip
                raise ValueError(f"{name!r} is not a configuration file name")
            data = yaml.safe_load(str(text))
            if not isinstance(data, dict):
                raise ValueError("not a mapping")
            _configuration_from(data, Path(name))
        except (yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
            raise RegistryError(
                f"{source}: its stored configuration {name!r} cannot be restored ({exc}); "
                "nothing was changed. Restore another backup, or mend that one."
            ) from None
        found[name] = str(text)
    return found


def configuration_files(folder: Path) -> dict[str, str]:
    """The home's stored configurations as a backup carries them (file name -> YAML)."""
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    return {f.name: f.read_text(encoding="utf-8") for f in files}


def replace_configurations(
    store: RegistryBackend, settings: Settings, folder: Path, stored: dict[str, str] | None
) -> tuple[Path, list[Path]]:
    """The configurations folder made the backup's (``stored``; None: keep those of the
    registered models); each file replaced is moved aside. Returns where, and what."""
    if stored is None:
        known = {str(r[0]) for r in store.read("SELECT model_id FROM entries")}
        keep = {f.name for f in folder.glob("*.yaml") if _model_id_of(f) in known}
    else:
        keep = {n for n, text in stored.items() if (folder / n).is_file() and _same_text(folder / n, text)}  # fmt: skip
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = settings.home / "replaced" / f"configs-{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"configs-{stamp}-{n}")
    moved: list[Path] = []
    try:
        for f in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            if f.name in keep:
                continue
            with _store_lock(f):
                ensure_dir(aside)
                os.replace(f, aside / f.name)
            moved.append(aside / f.name)
        for name, text in (stored or {}).items():
            if name not in keep:
                with _store_lock(folder / name):
                    atomic_write(folder / name, text.encode("utf-8"))
    except OSError as exc:
        raise storage_error(folder, exc) from None
    return aside, moved


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _model_id_of(path: Path) -> str:
    """The model id a configuration file is of ("" when it cannot be read)."""
    try:
        return load_configuration(path).model_id
    except (ConfigurationError, TypeError, ValueError):
        return ""
