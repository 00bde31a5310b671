"""The comparison's chart: horizontal bars of decode tokens/s, peak memory and perplexity,
one panel each, as SVG (:func:`chart_svg`, shown through :class:`Chart`).

Written by hand: three bar panels do not justify matplotlib (not installed here, and a heavy
dependency for this); the SVG is sized from its labels, so nothing is clipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

__all__ = ["Chart", "chart_svg"]


class Chart:
    """An SVG chart (shown as an image in a notebook; ``str(chart)`` is the SVG text)."""

    def __init__(self, svg: str) -> None:
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> Path:
        """Write the SVG to ``path`` (atomically)."""
        from ..files import atomic_write

        atomic_write(path, self.svg.encode())
        return Path(path)


def _memory(gib: float) -> str:
    return f"{gib:.2f} GiB" if gib >= 0.1 else f"{gib * 1024:.0f} MiB"


_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")  # fmt: skip
#: (summary column, title, how a value reads, which way is better, the column of its spread)
_PANELS: tuple[tuple[str, str, Callable[[float], str], str, str | None], ...] = (
    (
        "decode_tokens_per_s",
        "Decode speed, tokens/s",
        lambda v: f"{v:,.1f}",
        "higher is better",
        "decode_spread",
    ),
    ("peak_gib", "Peak memory", _memory, "lower is better", None),
    ("perplexity", "Perplexity", lambda v: f"{v:,.2f}", "lower is better", None),
)
_CHAR_PX = 7.2  # a 12 px sans-serif character at its widest on average (digits, capitals)
_MAX_LABEL = 44  # longer labels are cut with "…" (the whole label is the bar's tooltip)


def _esc(value: Any) -> str:
    return _xml_escape(str(value), {'"': "&quot;"})


def _number(value: Any) -> float | None:
    """``value`` as a float; None when missing, NaN or not a number (not measured)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def chart_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """Three panels of horizontal bars, one bar per candidate in the same colour in each:
    decode tokens/s (its spread as a whisker), peak memory and perplexity. ``rows`` are the
    summary's records (``label``, ``status`` and the panels' columns); a candidate without a
    figure shows why (its status, or "not measured") where its bar would be."""
    font, bar_h, gap, pad = 12, 18, 6, 10
    labels = [str(r.get("label", "")) for r in rows]
    shown = [s if len(s) <= _MAX_LABEL else s[: _MAX_LABEL - 1] + "…" for s in labels]
    label_w = int(max([len(s) for s in shown] + [8]) * _CHAR_PX) + 16
    bar_w, value_w = 320, 170
    width = pad + label_w + bar_w + value_w + pad
    x0 = pad + label_w
    parts: list[str] = []
    y = pad
    for column, title, fmt, better, spread_column in _PANELS:
        parts.append(
            f'<text x="{pad}" y="{y + 14}" font-size="13" font-weight="600">{_esc(title)}'
            f'<tspan font-weight="400" fill="#777"> · {better}</tspan></text>'
        )
        y += 24
        values = [_number(r.get(column)) for r in rows]
        spreads = [_number(r.get(spread_column)) if spread_column else None for r in rows]
        ends = [v + (s or 0.0) for v, s in zip(values, spreads, strict=True) if v is not None]
        top = max(ends, default=0.0)
        for i, (row, value, spread) in enumerate(zip(rows, values, spreads, strict=True)):
            text_y = y + bar_h / 2 + 4
            parts.append(
                f'<text class="nbm-chart-label" x="{x0 - 8}" y="{text_y}" text-anchor="end" '
                f'font-size="{font}">{_esc(shown[i])}<title>{_esc(labels[i])}</title></text>'
            )
            if value is None:
                status = str(row.get("status") or "")
                why = "not measured" if status in ("", "done") else status
                parts.append(
                    f'<text x="{x0 + 4}" y="{text_y}" font-size="{font}" fill="#888" '
                    f'font-style="italic">— {_esc(why)}</text>'
                )
                y += bar_h + gap
                continue
            length = max(1.0, bar_w * value / top) if top > 0 else 1.0
            parts.append(
                f'<rect class="nbm-chart-bar" data-label="{_esc(labels[i])}" x="{x0}" y="{y}" '
                f'width="{length:.1f}" height="{bar_h}" fill="{_PALETTE[i % len(_PALETTE)]}" rx="2">'
                f"<title>{_esc(labels[i])}: {_esc(fmt(value))}</title></rect>"
            )
            end = x0 + length
            text = fmt(value)
            if spread and top > 0:
                lo = x0 + bar_w * max(0.0, value - spread) / top
                hi = x0 + bar_w * (value + spread) / top
                mid = y + bar_h / 2
                parts.append(
                    f'<path d="M{lo:.1f} {mid}H{hi:.1f}M{lo:.1f} {mid - 4}V{mid + 4}'
                    f'M{hi:.1f} {mid - 4}V{mid + 4}" stroke="#333" stroke-width="1"/>'
                )
                end, text = max(end, hi), f"{text} ± {fmt(spread)}"
            parts.append(f'<text x="{end + 6:.1f}" y="{text_y}" font-size="{font}">{_esc(text)}</text>')  # fmt: skip
            y += bar_h + gap
        y += 12
    height = y + pad - 12
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="nbm-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        f'fill="currentColor">{"".join(parts)}</svg>'
    )
