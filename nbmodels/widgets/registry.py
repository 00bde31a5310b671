"""A registry view: a thin ipywidgets view over :class:`nbmodels.Registry`.

A table of entries with status badges (downloaded, configured, active, fits this machine),
a filter, a detail pane for one model (usage stats, dependencies both ways, its versions and
their alias moves, activate and deactivate, add a dependency, set an alias), and backup /
restore / update-index / validate.
Every button is one registry call; the table is read again after each.

    >>> nbmodels.registry_view()       # the last expression of a cell: the view shows
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..errors import NBModelsError
from ..storage.registry import Registry
from ..units import format_size
from ._common import TABLE_CSS, format_date, hrow

__all__ = ["RegistryView"]

_CSS = """
<style>
.nbm-badge { display: inline-block; padding: 0 6px; margin-right: 3px; border-radius: 8px;
  font-size: 11px; line-height: 16px; border: 1px solid transparent; white-space: nowrap; }
.nbm-badge.on-downloaded { background: #e3f2fd; color: #0d47a1; border-color: #90caf9; }
.nbm-badge.on-configured { background: #f3e5f5; color: #4a148c; border-color: #ce93d8; }
.nbm-badge.on-active { background: #e8f5e9; color: #1b5e20; border-color: #a5d6a7; }
.nbm-badge.on-fits { background: #fff8e1; color: #6d4c00; border-color: #ffe082; }
.nbm-badge.off { background: transparent; color: var(--jp-ui-font-color3, #aaa);
  border-color: var(--jp-border-color2, #ddd); }
.nbm-reg-row { align-items: center; gap: 8px; }
</style>
"""


def _badge(name: str, on: bool | None, title: str = "") -> str:
    cls = f"on-{name}" if on else "off"
    text = name if on is not False else f"not {name}"
    if on is None:
        text = f"{name}?"
    return f'<span class="nbm-badge {cls}" title="{html.escape(title)}">{html.escape(text)}</span>'


class RegistryView:
    """The registry as a table with badges, one model's detail and actions, backup and restore."""

    def __init__(self, registry: Registry, *, page_size: int = 25) -> None:
        self.registry = registry
        self.page_size = page_size
        self.filter = w.Text(
            placeholder="Filter: id, task, licence, tag", layout=w.Layout(width="320px")
        )
        self.summary = w.HTML()
        self.table = w.HTML(layout=w.Layout(width="100%", overflow="auto"))
        self.picker = w.Dropdown(description="Model", layout=w.Layout(width="520px"))
        self.picker.add_class("nbm-registry-picker")
        self.detail = w.HTML(layout=w.Layout(width="100%"))
        self.versions = w.HTML(layout=w.Layout(width="100%"))
        self.cards = w.HTML(layout=w.Layout(width="100%"))
        self.activate_button = w.Button(description="Activate", icon="play", layout=w.Layout(width="120px"))  # fmt: skip
        self.deactivate_button = w.Button(description="Deactivate", icon="pause", layout=w.Layout(width="120px"))  # fmt: skip
        self.dependency = w.Dropdown(description="Needs", layout=w.Layout(width="420px"))
        self.add_dependency_button = w.Button(description="Add dependency", icon="link", layout=w.Layout(width="150px"))  # fmt: skip
        self.alias = w.Text(placeholder="alias, e.g. chat-default", layout=w.Layout(width="220px"))
        self.alias_button = w.Button(description="Set alias", icon="tag", layout=w.Layout(width="110px"))  # fmt: skip
        self.backup_path = w.Text(value=str(registry.path.with_name("registry-backup.db")), layout=w.Layout(width="420px"))  # fmt: skip
        self.backup_button = w.Button(description="Backup", icon="download", layout=w.Layout(width="110px"))  # fmt: skip
        self.restore_button = w.Button(description="Restore", icon="upload", layout=w.Layout(width="110px"))  # fmt: skip
        self.update_button = w.Button(description="Update index", icon="refresh", layout=w.Layout(width="130px"))  # fmt: skip
        self.validate_button = w.Button(description="Validate", icon="check", layout=w.Layout(width="110px"))  # fmt: skip
        self.status = w.HTML()

        self.filter.observe(lambda _c: self.refresh(), names="value")
        self.picker.observe(lambda _c: self._show_detail(), names="value")
        self.activate_button.on_click(lambda _b: self._do(lambda k: self.registry.activate(k), "activated"))  # fmt: skip
        self.deactivate_button.on_click(lambda _b: self._do(lambda k: self.registry.deactivate(k), "deactivated"))  # fmt: skip
        self.add_dependency_button.on_click(lambda _b: self._do(lambda k: self.registry.add_dependency(k, self.dependency.value), "dependency added"))  # fmt: skip
        self.alias_button.on_click(lambda _b: self._do(lambda k: self.registry.set_alias(self.alias.value, k), f"alias @{self.alias.value.lstrip('@')} set"))  # fmt: skip
        self.backup_button.on_click(lambda _b: self._run(lambda: f"backed up to {self.registry.backup(self.backup_path.value)}"))  # fmt: skip
        self.restore_button.on_click(lambda _b: self._run(lambda: f"restored {self.registry.restore(self.backup_path.value)} entries from {self.backup_path.value}"))  # fmt: skip
        self.update_button.on_click(lambda _b: self._run(self._update_index))
        self.validate_button.on_click(lambda _b: self._run(self._validate))

        def row(*children: w.Widget) -> w.HBox:
            return hrow(*children, cls="nbm-reg-row")

        self.widget = w.VBox(
            [
                w.HTML(TABLE_CSS + _CSS),
                row(self.filter, self.update_button, self.validate_button),
                self.summary,
                self.table,
                row(self.picker, self.activate_button, self.deactivate_button),
                self.detail,
                self.versions,
                self.cards,
                row(self.dependency, self.add_dependency_button, self.alias, self.alias_button),
                row(self.backup_path, self.backup_button, self.restore_button),
                self.status,
            ],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("nbm-registry")
        self.refresh()

    # -- reading ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the registry again (after any change, here or in another kernel)."""
        query = self.filter.value.strip()
        everything = self.registry.all()
        entries = self.registry.search(query, limit=None) if query else everything
        stats = self.registry.registry_stats()
        total = stats["entries"]
        self.summary.value = (
            f'<span class="nbm-muted">{total} models · {stats["available"]} downloaded · '
            f"{stats['configured']} configured · {stats['active']} active · {stats['uses']} uses"
            + (f" · {len(entries)} match {html.escape(query)!r}" if query else "")
            + "</span>"
        )
        from ..discover.catalog import fit_limit_bytes

        limit = fit_limit_bytes()
        shown = entries[: self.page_size]
        rows = []
        for e in shown:
            m = e.metadata
            size = m.size_bytes
            fits = None if size is None else size <= limit
            u = e.usage_stats
            badges = (
                _badge("downloaded", e.is_available, m.local_path or "")
                + _badge("configured", e.configuration is not None)
                + _badge("active", e.is_active)
                + _badge("fits", fits, "size unknown" if size is None else format_size(size))
            )
            tps = ""
            if u.get("busy_seconds"):
                tps = f"{u.get('tokens_out', 0) / u['busy_seconds']:.1f}"
            rows.append(
                f"<tr><td class='c-id' title='{html.escape(m.key)}'>{html.escape(m.id)}</td>"
                f"<td>{html.escape(m.source.value)}</td><td>{badges}</td>"
                f"<td class='num'>{u.get('use_count', 0)}</td><td class='num'>{tps}</td>"
                f"<td>{format_date(e.last_used)}</td>"
                f"<td>{html.escape(', '.join(e.dependencies))}</td></tr>"
            )
        if rows:
            more = len(entries) - len(shown)
            self.table.value = (
                "<table class='nbm-table'><thead><tr><th>model</th><th>source</th><th>status</th>"
                "<th class='num'>uses</th><th class='num'>tokens/s</th><th>last used</th>"
                f"<th>depends on</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
                + (
                    f"<div class='nbm-muted'>{more} more: filter to narrow (nothing is hidden otherwise)</div>"
                    if more
                    else ""
                )
            )
        else:
            self.table.value = "<div class='nbm-empty'>No models registered yet: downloads register themselves, or call nbmodels.registry.register(...).</div>"  # fmt: skip
        options = [
            (f"{e.metadata.id} ({e.metadata.source.value})", e.metadata.key) for e in entries
        ]
        current = self.picker.value
        self.picker.options = options
        if current in [k for _, k in options]:
            self.picker.value = current
        elif options:
            self.picker.value = options[0][1]
        self._all = [(f"{e.metadata.id} ({e.metadata.source.value})", e.metadata.key) for e in everything]  # fmt: skip
        self._show_detail()

    def _show_detail(self) -> None:
        key = self.picker.value
        # what the picked model may depend on: every other entry, the first one chosen
        others = [(label, k) for label, k in getattr(self, "_all", []) if k != key]
        self.dependency.options = others
        self.dependency.value = others[0][1] if others else None
        disabled = key is None
        for b in (self.activate_button, self.deactivate_button, self.add_dependency_button, self.alias_button):  # fmt: skip
            b.disabled = disabled
        if key is None:
            self.detail.value = self.versions.value = self.cards.value = ""
            return
        self.versions.value = self._versions_html(key)
        self.cards.value = self._cards_html(key)
        try:
            e = self.registry.get(key)
            s = self.registry.stats(key)
        except NBModelsError as exc:
            self.detail.value = f"<div class='nbm-error'>{html.escape(str(exc))}</div>"
            return
        self.activate_button.disabled = e.is_active
        self.deactivate_button.disabled = not e.is_active
        aliases = [a for a, k in self.registry.aliases().items() if k == key]
        facts = [
            ("key", e.metadata.key),
            ("status", e.download_status.value + (f" · {e.metadata.local_path}" if e.metadata.local_path else "")),
            ("tasks", ", ".join(t.value for t in e.metadata.tasks)),
            ("uses", f"{s['use_count']} · {s['tokens_out']} tokens out · {s['busy_seconds']:.1f} s busy"
                     + (f" · {s['tokens_per_second']:.1f} tokens/s" if s["tokens_per_second"] else "")),
            ("last used", format_date(e.last_used) or "never"),
            ("measured peak", format_size(s["measured_peak_bytes"]) if s["measured_peak_bytes"] else ""),
            ("depends on", ", ".join(e.dependencies) or "nothing"),
            ("needed by", ", ".join(e.dependents) or "nothing"),
            ("aliases", ", ".join(f"@{a}" for a in aliases)),
            ("tags", ", ".join(e.usage_stats.get("tags", []))),
        ]  # fmt: skip
        body = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in facts
            if v
        )
        self.detail.value = f"<table class='nbm-table nbm-facts'>{body}</table>"

    def _versions_html(self, key: str) -> str:
        """The model's versions (the current one marked) and every alias move."""
        from ..storage.versions import alias_history, versions

        try:
            found, moves = versions(self.registry, key), alias_history(self.registry, key)
        except NBModelsError as exc:
            return f"<div class='nbm-error'>{html.escape(str(exc))}</div>"
        if not found:
            return "<div class='nbm-muted'>No versions recorded yet (nbmodels.storage.versions.record_version).</div>"  # fmt: skip
        e = html.escape
        rows = "".join(
            f"<tr><td class='num'>{'● ' if v.is_current else ''}{v.number}</td><td>{e(v.kind)}</td>"
            f"<td title='{e(v.commit or v.digest or '')}'>{e((v.commit or v.digest or '')[:12])}</td>"
            f"<td class='num'>{len(v.files)}</td><td class='num'>{format_size(v.size) if v.files else ''}</td>"
            f"<td>{'yes' if v.configuration else ''}</td><td>{e(', '.join(v.aliases))}</td>"
            f"<td>{e(v.created_at)}</td><td>{e(v.created_by)}</td><td>{e(v.note or '')}</td></tr>"
            for v in found
        )  # fmt: skip
        out = (
            "<table class='nbm-table nbm-versions'><thead><tr><th class='num'>version</th><th>kind</th>"
            "<th>pin</th><th class='num'>files</th><th class='num'>size</th><th>configured</th>"
            f"<th>aliases</th><th>recorded (UTC)</th><th>by</th><th>note</th></tr></thead><tbody>{rows}</tbody></table>"
        )  # fmt: skip
        if moves:
            moved = "".join(
                f"<tr><td>{e(m.at)}</td><td>{e(m.who)}</td><td>{e(m.alias or '')}</td>"
                f"<td class='num'>{'' if m.from_number is None else m.from_number}</td><td class='num'>{m.to_number}</td></tr>"
                for m in moves
            )  # fmt: skip
            out += (
                "<table class='nbm-table nbm-alias-history'><thead><tr><th>moved (UTC)</th><th>by</th>"
                f"<th>alias</th><th class='num'>from</th><th class='num'>to</th></tr></thead><tbody>{moved}</tbody></table>"
            )  # fmt: skip
        return out

    def _cards_html(self, key: str) -> str:
        """The model's benchmark cards (nbmodels.benchmark): speed with its spread and repeat
        count, memory, perplexity, KL, and what a card could not measure."""
        from ..storage.cards import cards

        try:
            found = cards(self.registry, key)
        except NBModelsError as exc:
            return f"<div class='nbm-error'>{html.escape(str(exc))}</div>"
        if not found:
            return "<div class='nbm-muted'>No benchmark cards yet (nbmodels.benchmark).</div>"
        e = html.escape

        def spread(c: dict[str, Any], name: str, digits: int = 1) -> str:
            mean, sd = c.get(f"{name}_tokens_per_s"), c.get(f"{name}_spread")
            if mean is None:
                return ""
            said = f"{mean:.{digits}f}"
            return (
                said
                + (f" ± {sd:.{digits}f}" if sd is not None else "")
                + f" (n={c.get('repeats', '?')})"
            )

        def number(value: Any, fmt: str) -> str:
            return "" if value is None else format(value, fmt)

        rows = []
        for s in found:
            c, config = s.card, s.card.get("configuration") or {}
            missing = c.get("not_measured") or {}
            status = "complete" if s.complete else "incomplete: " + ", ".join(missing) if missing else "incomplete"  # fmt: skip
            rows.append(
                f"<tr><td class='num'>{s.number}</td><td class='num'>{'' if s.version is None else s.version}</td>"
                f"<td>{e(str(c.get('backend') or ''))}</td><td>{e(str(config.get('quantization') or ''))}</td>"
                f"<td class='num'>{spread(c, 'prefill')}</td><td class='num'>{spread(c, 'decode')}</td>"
                f"<td class='num'>{number(c.get('ttft_s'), '.3f')}</td>"
                f"<td class='num'>{format_size(c['peak_bytes']) if c.get('peak_bytes') else ''}</td>"
                f"<td class='num'>{number(c.get('perplexity'), '.2f')}</td><td class='num'>{number(c.get('kl_divergence'), '.4f')}</td>"
                f"<td title='{e('; '.join(f'{k}: {v}' for k, v in missing.items()))}'>{e(status)}</td>"
                f"<td>{e(s.created_at)}</td></tr>"
            )  # fmt: skip
        return (
            "<table class='nbm-table nbm-cards'><thead><tr><th class='num'>card</th><th class='num'>version</th>"
            "<th>backend</th><th>quantization</th><th class='num'>prefill tok/s</th><th class='num'>decode tok/s</th>"
            "<th class='num'>TTFT s</th><th class='num'>peak</th><th class='num'>perplexity</th><th class='num'>KL</th>"
            f"<th>status</th><th>measured (UTC)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )  # fmt: skip

    # -- actions ---------------------------------------------------------------------------------
    def _do(self, action: Any, said: str) -> None:
        key = self.picker.value
        if key is None:
            return
        self._run(lambda: (action(key), f"{key}: {said}")[1])

    def _run(self, action: Any) -> None:
        try:
            message = action()
        except (NBModelsError, OSError) as exc:
            self.status.value = f"<span class='nbm-error'>{html.escape(str(exc))}</span>"
            return
        self.status.value = f"<span class='nbm-ok'>✓ {html.escape(str(message))}</span>"
        self.refresh()

    def _update_index(self) -> str:
        changed = self.registry.update_index()
        return (f"index updated: {len(changed['added'])} added, {len(changed['unavailable'])} "
                f"no longer on disk, {len(changed['available_again'])} back")  # fmt: skip

    def _validate(self) -> str:
        problems = self.registry.validate()
        if problems:
            raise NBModelsError(f"{len(problems)} problem(s): " + "; ".join(problems) + " (Registry.validate(repair=True) fixes what it can)")  # fmt: skip
        return "the registry is sound"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<RegistryView {str(self.registry.path)!r}>"
