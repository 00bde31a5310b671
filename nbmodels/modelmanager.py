"""The seed's Model Manager System: one object over discovery, downloads, configuration and
the registry. A thin facade: every method is a call into the module that owns the concept.

    >>> from nbmodels import manager                 # the default one (like huggingface_hub's api)
    >>> manager.recommended("chat")                  # ranked, each with its reason
    >>> task, cfg = manager.download_and_configure("org/name", optimize="memory")
    >>> manager.backup("nbmodels-backup.zip")        # registry + configurations + templates

``ModelManager(settings)`` for another home; with no settings it follows
``nbmodels.settings.use_settings`` and the environment, call by call. Named ``modelmanager``:
a submodule ``manager`` would replace the object ``nbmodels.manager`` once imported.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NBModelsError
from .settings import Settings, default_settings

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .discover.catalog import Catalog
    from .downloader.core import Downloader, DownloadTask
    from .storage.registry import Registry
    from .types import ModelConfiguration

__all__ = ["ModelManager", "manager"]

_PERMISSIVE = {"apache-2.0", "mit", "bsd-3-clause", "bsd-2-clause", "cc-by-4.0", "openrail", "bsd"}


class ModelManager:
    """Search, recommend, download, configure, register, back up: the whole system."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    def __repr__(self) -> str:
        return f"<ModelManager home={str(self.settings.home)!r}>"

    # -- the parts (each owned by its module) ---------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings if self._settings is not None else default_settings()

    @property
    def catalog(self) -> Catalog:
        from .discover.catalog import Catalog, default_catalog

        return default_catalog() if self._settings is None else _cached(self, "_catalog", lambda: Catalog(self.settings))  # fmt: skip

    @property
    def registry(self) -> Registry:
        from .storage.registry import Registry, default_registry

        return default_registry() if self._settings is None else _cached(self, "_registry", lambda: Registry(settings=self.settings))  # fmt: skip

    @property
    def downloader(self) -> Downloader:
        from .downloader.core import Downloader, default_downloader

        return default_downloader() if self._settings is None else _cached(self, "_downloader", lambda: Downloader(self.settings))  # fmt: skip

    @property
    def max_concurrent_downloads(self) -> int:
        return self.downloader.max_concurrent_downloads

    @max_concurrent_downloads.setter
    def max_concurrent_downloads(self, n: int) -> None:
        self.downloader.set_max_concurrent_downloads(n)

    @property
    def paths(self) -> dict[str, Path]:
        """Where everything lives (set them with ``Settings`` / the environment)."""
        from .config.configuration import configurations_folder, templates_folder

        s = self.settings
        return {"home": s.home, "hf_cache": s.hf_cache, "ollama_models": s.ollama_models,
                "catalog": s.catalog_dir, "registry": self.registry.path,
                "configurations": configurations_folder(s), "templates": templates_folder(s)}  # fmt: skip

    # -- discovery --------------------------------------------------------------------------------
    def search(self, query: str = "", **filters: Any) -> pd.DataFrame:
        return self.catalog.search(query, **filters)

    def model_info(self, model_id: str, **kwargs: Any) -> Any:
        return self.catalog.model_info(model_id, **kwargs)

    def recommended(self, task: str, model_type: str | None = None, *, limit: int = 5, **filters: Any) -> pd.DataFrame:  # fmt: skip
        """Models for ``task`` ranked by fit to this machine (size against free memory),
        then an open licence, then popularity; each row says why (``reason``). The ranking
        runs over the catalog's ``max(50, 10 x limit)`` most downloaded matches (the catalog
        says when that cut a source's answer short)."""
        import pandas as pd

        from .discover.catalog import fit_limit_bytes

        df = self.catalog.search(
            task=task, model_type=model_type, limit=max(50, 10 * limit), **filters
        )
        if not len(df):
            return df.assign(fits=pd.Series(dtype="boolean"), reason=pd.Series(dtype=str))
        limit_bytes = fit_limit_bytes()
        fits = df["size_bytes"].map(lambda v: None if pd.isna(v) else bool(v <= limit_bytes))
        open_licence = df["license"].map(lambda v: isinstance(v, str) and v.lower() in _PERMISSIVE)
        rank = pd.DataFrame({"fit": fits.map({True: 0, None: 1, False: 2}),
                             "lic": (~open_licence).astype(int),
                             "pop": -df["downloads"].fillna(0)})  # fmt: skip
        order = rank.sort_values(["fit", "lic", "pop"], kind="stable").index
        out = df.loc[order].head(limit).copy()
        out["fits"] = fits.loc[out.index].astype("boolean")

        def why(row: Any) -> str:
            from .units import format_size

            f = row["fits"]
            size = "size unknown, fit not judged" if pd.isna(f) else (
                f"{format_size(row['size_bytes'])} fits this machine" if f else f"{format_size(row['size_bytes'])} is more than this machine has free")  # fmt: skip
            lic = (
                f"licence {row['license']}"
                if isinstance(row["license"], str)
                else "no licence stated"
            )
            pop = (
                f"{int(row['downloads']):,} downloads"
                if not pd.isna(row["downloads"])
                else "downloads unknown"
            )
            return f"{size}; {lic}; {pop}"

        out["reason"] = out.apply(why, axis=1)
        return out.reset_index(drop=True)

    # -- downloads and configuration ------------------------------------------------------------
    def download(self, model_id: str, **kwargs: Any) -> Any:
        return self.downloader.download(model_id, **kwargs)

    def configure(self, model: Any, **kwargs: Any) -> ModelConfiguration:
        from .config.configuration import configure

        return configure(model, settings=self.settings, **kwargs)

    def download_and_configure(
        self,
        model_id: str,
        *,
        template: str | None = None,
        optimize: str | None = None,
        **overrides: Any,
    ) -> tuple[DownloadTask, ModelConfiguration]:
        """Download ``model_id`` (waits; progress shows as for ``download``), configure it
        from its files, store the configuration; the registry records both."""
        from .config.configuration import configure, save_configuration
        from .downloader.core import DownloadTask

        task = self.downloader.download(model_id)
        assert isinstance(task, DownloadTask)  # not a dry run
        folder = task.result()
        cfg = configure(
            folder, template=template, optimize=optimize, settings=self.settings, **overrides
        )
        cfg = dataclasses.replace(cfg, model_id=model_id)
        save_configuration(cfg, settings=self.settings)
        return task, cfg

    def setup_for_task(self, task: str, *, model_type: str | None = None, optimize: str | None = "memory") -> tuple[DownloadTask, ModelConfiguration]:  # fmt: skip
        """The best recommended model for ``task`` that fits, downloaded and configured."""
        picks = self.recommended(task, model_type, limit=20)
        picks = picks[picks["fits"].fillna(False) & (picks["source"] == "huggingface")]
        if not len(picks):
            raise NBModelsError(f"No Hugging Face model for {task!r} that fits this machine was found; search() with other filters.")  # fmt: skip
        return self.download_and_configure(str(picks.iloc[0]["id"]), optimize=optimize)

    def optimize_configuration(self, model_id: str, goal: str) -> ModelConfiguration:
        """Re-tune the stored configuration of ``model_id`` for ``goal``, and store it."""
        from .config.configuration import get_configuration, optimize, save_configuration

        cfg = get_configuration(model_id, self.settings) or self.configure(model_id)
        tuned = optimize(cfg, goal)
        save_configuration(tuned, settings=self.settings)
        return tuned

    # -- stats, upkeep --------------------------------------------------------------------------
    def system_stats(self) -> dict[str, Any]:
        from .machine import hardware

        hw = hardware()
        return {"cpu_count": hw.cpu_count, "ram_usable_bytes": hw.usable_ram_bytes,
                "gpus": [g.device for g in hw.gpus], "bitsandbytes": hw.bitsandbytes_installed,
                "catalog_rows": len(self.catalog), **{f"registry_{k}": v for k, v in self.registry_stats().items() if not isinstance(v, dict)}}  # fmt: skip

    def download_stats(self) -> dict[str, Any]:
        tasks = self.downloader.downloads()
        by: dict[str, int] = {}
        for t in tasks:
            by[t.status.value] = by.get(t.status.value, 0) + 1
        return {"tasks": len(tasks), "by_status": by,
                "bytes_downloaded": sum(t.progress.downloaded_bytes for t in tasks)}  # fmt: skip

    def configuration_stats(self) -> dict[str, Any]:
        from .config.configuration import stored_configurations, templates

        return {"stored": len(stored_configurations(self.settings)), "templates": len(templates(self.settings))}  # fmt: skip

    def registry_stats(self) -> dict[str, Any]:
        return self.registry.registry_stats()

    def cleanup(self, **kwargs: Any) -> Any:
        return self.registry.cleanup(**kwargs)

    def validate(self) -> dict[str, list[str]]:
        """Problems anywhere: the registry's, and stored configurations that do not validate."""
        from .config.configuration import configurations_folder, load_configuration, validate

        bad = []
        folder = configurations_folder(self.settings)
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
            try:
                found = validate(load_configuration(path))
            except NBModelsError as exc:
                bad.append(f"{path.name}: {exc}")
                continue
            bad += [f"{path.name}: {e}" for e in found.errors]
        return {"registry": self.registry.validate(), "configurations": bad}

    def update(self) -> dict[str, list[str]]:
        """Re-sync the registry with the disk (see ``Registry.update_index``)."""
        return self.registry.update_index()

    def backup(self, path: Path | str) -> Path:
        """The whole system's state as one zip: the registry (an SQLite backup), every stored
        configuration and the user's templates. Caches (the catalog, model files) are not in
        it: they come back from their sources."""
        import tempfile

        from .config.configuration import configurations_folder, templates_folder

        target = Path(path)
        from .files import atomic_path

        with tempfile.TemporaryDirectory() as tmp, atomic_path(target) as out:
            db = self.registry.backup(Path(tmp) / "registry.db")
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
                z.write(db, "registry.db")
                for name, folder in (("configs", configurations_folder(self.settings)), ("templates", templates_folder(self.settings))):  # fmt: skip
                    for f in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
                        z.write(f, f"{name}/{f.name}")
        return target

    def restore(self, path: Path | str) -> dict[str, int]:
        """Bring back a :meth:`backup` (into this home); returns what it held, and how many
        of the home's own configurations were set aside (see :meth:`Registry.restore`)."""
        import tempfile

        from .config.configuration import configurations_folder, templates_folder
        from .files import atomic_write

        source = Path(path)
        try:
            z = zipfile.ZipFile(source)
        except (OSError, zipfile.BadZipFile) as exc:
            raise NBModelsError(f"{source} is not an nbmodels backup ({exc}); nothing was changed.") from None  # fmt: skip
        with z, tempfile.TemporaryDirectory() as tmp:
            names = z.namelist()
            if "registry.db" not in names:
                raise NBModelsError(f"{source} has no registry.db: not an nbmodels backup; nothing was changed.")  # fmt: skip
            z.extract("registry.db", tmp)
            report = self.registry.restore(Path(tmp) / "registry.db")
            # the home's own configurations the backup does not hold were set aside (not lost)
            counts = {"entries": int(report), "configs": 0, "templates": 0, "set_aside": len(report.moved_aside)}  # fmt: skip
            for name in names:
                kind, _, file = name.partition("/")
                if kind in ("configs", "templates") and file.endswith(".yaml") and "/" not in file:
                    folder = configurations_folder(self.settings) if kind == "configs" else templates_folder(self.settings)  # fmt: skip
                    atomic_write(folder / file, z.read(name))
                    counts[kind] += 1
        return counts


def _cached(owner: Any, name: str, build: Any) -> Any:
    value = owner.__dict__.get(name)
    if value is None:
        value = build()
        owner.__dict__[name] = value
    return value


#: the default manager: follows the current settings call by call
manager = ModelManager()
