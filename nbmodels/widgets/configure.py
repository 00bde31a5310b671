"""A configuration editor: a thin view over :mod:`nbmodels.config.configuration` and
:mod:`nbmodels.config.memory`.

Every control maps to one :class:`~nbmodels.types.ModelConfiguration` field. Each change
builds a new configuration, validates it (the message sits beside the field it names) and
re-estimates memory from the model read once (no disk or Hub access per change); the bar
shows the estimate against this machine's free RAM and each GPU's free memory.

    >>> ed = nbmodels.config_editor("/path/to/model")
    >>> ed                 # the last expression of a cell: the editor shows
    >>> ed.config          # the configuration on screen, at any moment
    >>> ed.save()          # what the Save button does: the model's YAML in the home
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..config.configuration import (
    DTYPES,
    GOALS,
    QUANTIZATIONS,
    Issue,
    Validation,
    configure,
    from_template,
    optimize,
    save_configuration,
    templates,
    validate,
)
from ..errors import NBModelsError
from ..settings import Settings
from ..types import ModelConfiguration, ModelMetadata
from ..units import format_size
from ._common import TABLE_CSS

__all__ = ["ConfigEditor"]

_CSS = """
<style>
.nbm-cfg-row { align-items: center; gap: 8px; min-height: 32px; }
.nbm-cfg-label { color: var(--jp-ui-font-color1, #222); }
.nbm-cfg-msg { font-size: var(--jp-ui-font-size1, 13px); line-height: 1.3; }
.nbm-cfg-section { font-weight: 600; margin: 8px 0 2px 0; }
.nbm-membar { position: relative; height: 22px; border-radius: 3px; overflow: hidden;
  background: var(--jp-layout-color2, #eee); border: 1px solid var(--jp-border-color2, #ccc); }
.nbm-membar > span { position: absolute; top: 0; bottom: 0; }
.nbm-membar .limit { width: 2px; background: #222; z-index: 2; }
.nbm-memlegend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 4px 0;
  font-size: var(--jp-ui-font-size1, 13px); }
.nbm-memlegend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px;
  border-radius: 2px; vertical-align: middle; }
.nbm-verdict-ok { color: #2e7d32; font-weight: 600; }
.nbm-verdict-bad { color: #c62828; font-weight: 600; }
</style>
"""
_COLORS = {"weights": "#1976d2", "KV cache": "#8e24aa", "activations": "#f57c00",
           "runtime": "#9e9e9e", "loading": "#80cbc4"}  # fmt: skip
_LABEL = {"width": "160px", "flex": "0 0 160px"}  # fixed: a message beside never squeezes them
_CONTROL = {"width": "300px", "flex": "0 0 300px"}


def _message(issues: list[tuple[str, Issue]]) -> str:
    parts = []
    for kind, issue in issues:
        cls = "nbm-error" if kind == "error" else "nbm-warn"
        mark = "✗" if kind == "error" else "⚠"
        parts.append(
            f'<span class="{cls}">{mark} {html.escape(issue.message)}</span>'
            f' <span class="nbm-muted">— {html.escape(issue.suggestion)}</span>'
        )
    return "<br>".join(parts)


class ConfigEditor:
    """Sliders and fields over one model's configuration, validated live, with its memory
    estimate as a bar against this machine's RAM and VRAM; Save writes the model's YAML.

    ``config`` is the configuration on screen; ``validation`` and ``estimate`` what the
    editor shows about it; ``on_change`` callbacks get the editor after every change."""

    def __init__(
        self,
        model: ModelMetadata | str | Path,
        config: ModelConfiguration | None = None,
        *,
        batch: int = 1,
        settings: Settings | None = None,
        hardware: Any = None,
    ) -> None:
        from ..machine import hardware as read_hardware

        self.settings = settings
        self.hardware = hardware or read_hardware()
        self._model = model
        self._callbacks: list[Callable[[ConfigEditor], None]] = []
        self._updating = False
        self.config: ModelConfiguration = config or configure(
            model, settings=settings, hardware=self.hardware
        )
        self._base = self.config
        self.validation: Validation = validate(self.config)
        self.estimate: Any = None
        self.estimate_error: str | None = None
        self._parse_errors: dict[str, Issue] = {}
        # fields whose value no control here can show: kept as they are, and said
        self._unshown: dict[str, Issue] = {}
        self._memory_model: Any = None
        self._measured: int | None = None
        try:  # read the model once: config.json and the weights' headers (or the Hub's)
            from ..config.memory import _resolve

            self._memory_model = _resolve(model, None)
            from ..config.memory import _measured_peak

            self._measured = _measured_peak(self._memory_model.model_id)
        except NBModelsError as exc:
            self.estimate_error = str(exc)

        self.title = w.HTML()
        ids = [t.template_id for t in templates(settings)]
        names = {t.template_id: f"{t.name} ({t.template_id})" for t in templates(settings)}
        chosen = self.config.custom_settings.get("template")
        self.template = w.Dropdown(
            options=[("— model's own settings —", "")] + [(names[i], i) for i in ids],
            value=chosen if chosen in ids else "",
            layout=w.Layout(**_CONTROL),
        )
        self.goal = w.ToggleButtons(
            options=[("none", ""), *[(g, g) for g in GOALS]],
            value=str(self.config.custom_settings.get("optimized_for") or ""),
            tooltips=["as configured", "fastest on this machine", "least memory", "full precision"],
            style={"button_width": "86px"},
        )
        self.fields: dict[str, w.Widget] = {
            "temperature": w.FloatSlider(min=0.0, max=2.0, step=0.05, readout_format=".2f"),
            "top_p": w.FloatSlider(min=0.0, max=1.0, step=0.01, readout_format=".2f"),
            "top_k": w.IntSlider(min=0, max=200),
            "repetition_penalty": w.FloatSlider(min=0.5, max=2.0, step=0.05, readout_format=".2f"),
            "max_tokens": w.IntText(),
            "num_beams": w.IntSlider(min=1, max=8),
            "do_sample": w.Dropdown(
                options=[("auto (temperature > 0)", None), ("yes", True), ("no (greedy)", False)]
            ),
            "seed": w.Text(placeholder="blank: random"),
            "stop_sequences": w.Text(placeholder='comma separated, e.g. </s>, "User:"'),
            "enable_streaming": w.Checkbox(indent=False),
            "system_prompt": w.Textarea(rows=2),
            "max_context_length": w.IntText(),
            "dtype": w.Dropdown(options=list(DTYPES)),
            "quantization": w.Dropdown(options=list(QUANTIZATIONS)),
            "double_quant": w.Checkbox(indent=False),
            "device_map": w.Dropdown(options=self._devices()),
            "trust_remote_code": w.Checkbox(indent=False),
            "safetensors_only": w.Checkbox(indent=False),
        }
        self.batch = w.IntSlider(value=batch, min=1, max=64, layout=w.Layout(**_CONTROL))
        self.messages = {
            name: w.HTML(layout=w.Layout(margin="0 0 4px 168px", display="none"))
            for name in self.fields
        }
        for name, control in self.fields.items():
            control.layout = w.Layout(**_CONTROL)
            control.add_class(f"nbm-f-{name}")  # what a browser test (or a stylesheet) finds
            control.observe(self._changed, names="value")
        self.batch.observe(self._changed, names="value")
        self.template.observe(self._template_changed, names="value")
        self.goal.observe(self._goal_changed, names="value")
        self.memory = w.HTML(layout=w.Layout(width="100%"))
        self.reasons = w.HTML()
        self.status = w.HTML()
        self.save_button = w.Button(
            description="Save", icon="save", button_style="primary", layout=w.Layout(width="110px")
        )
        self.reset_button = w.Button(description="Reset", icon="undo", layout=w.Layout(width="110px"))  # fmt: skip
        self.save_button.on_click(lambda _b: self._save_clicked())
        self.reset_button.on_click(lambda _b: self.set_config(self._base))

        def row(label: str, control: w.Widget, message: w.Widget | None = None) -> w.Box:
            text = w.HTML(
                f'<span class="nbm-cfg-label">{html.escape(label)}</span>',
                layout=w.Layout(**_LABEL),
            )
            box = w.HBox([text, control])
            box.add_class("nbm-cfg-row")
            if message is None:
                return box
            # the message right under its field, aligned with it: beside it, a long
            # suggestion would be squeezed into a narrow column
            return w.VBox([box, message])

        labels = {"temperature": "temperature", "top_p": "top p", "top_k": "top k",
                  "repetition_penalty": "repetition penalty", "max_tokens": "max new tokens",
                  "num_beams": "beams", "do_sample": "sampling", "seed": "seed",
                  "stop_sequences": "stop sequences", "enable_streaming": "stream",
                  "system_prompt": "system prompt", "max_context_length": "context (tokens)",
                  "dtype": "dtype", "quantization": "quantization",
                  "double_quant": "double quant (4-bit)", "device_map": "device map",
                  "trust_remote_code": "trust remote code",
                  "safetensors_only": "safetensors only"}  # fmt: skip
        generation = ["temperature", "top_p", "top_k", "repetition_penalty", "max_tokens",
                      "num_beams", "do_sample", "seed", "stop_sequences", "enable_streaming",
                      "system_prompt"]  # fmt: skip
        loading = ["max_context_length", "dtype", "quantization", "double_quant", "device_map",
                   "trust_remote_code", "safetensors_only"]  # fmt: skip

        def section(title: str) -> w.HTML:
            return w.HTML(f'<div class="nbm-cfg-section">{html.escape(title)}</div>')

        left = w.VBox(
            [section("Generation")]
            + [row(labels[n], self.fields[n], self.messages[n]) for n in generation],
            layout=w.Layout(flex="1 1 560px", min_width="520px"),
        )
        right = w.VBox(
            [section("Loading and memory")]
            + [row(labels[n], self.fields[n], self.messages[n]) for n in loading]
            + [row("batch (estimate)", self.batch), self.memory],
            layout=w.Layout(flex="1 1 560px", min_width="520px"),
        )
        top = w.VBox([row("template", self.template), row("optimise for", self.goal)])
        buttons = w.HBox([self.save_button, self.reset_button, self.status])
        buttons.add_class("nbm-cfg-row")
        self.widget = w.VBox(
            [
                w.HTML(TABLE_CSS + _CSS),
                self.title,
                top,
                w.HBox([left, right], layout=w.Layout(flex_flow="row wrap", width="100%")),
                self.reasons,
                buttons,
            ],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("nbm-config")
        self.memory.add_class("nbm-memory")
        self.batch.add_class("nbm-f-batch")
        self.set_config(self.config)

    # -- the model <-> the controls -------------------------------------------------------------
    def _devices(self) -> list[str]:
        gpus = [g.device for g in getattr(self.hardware, "gpus", ()) if g.kind == "cuda"]
        return ["auto", "cpu", *gpus]

    def set_config(self, cfg: ModelConfiguration) -> None:
        """Show ``cfg`` in the controls (validated and estimated as any change is)."""
        self._updating = True
        self._unshown = {}
        try:
            for name, control in self.fields.items():
                value = getattr(cfg, name)
                if name == "seed":
                    value = "" if value is None else str(value)
                elif name == "stop_sequences":
                    value = ", ".join(value)
                elif name == "max_context_length":
                    value = value or 0
                elif name == "device_map" and value not in control.options:
                    control.options = [*control.options, str(value)]
                elif isinstance(control, w.FloatSlider | w.IntSlider):
                    control.max = max(control.max, value) if isinstance(value, int | float) else control.max  # fmt: skip
                try:
                    control.value = value
                except Exception:  # a value the control cannot show: kept, and said beside it
                    self._unshown[name] = Issue(name, f"{value!r} cannot be shown here; it is kept as it is", "change it in code")  # fmt: skip
        finally:
            self._updating = False
        self.config = cfg
        self._parse_errors = {}
        self._refresh()

    def _read(self) -> ModelConfiguration:
        values: dict[str, Any] = {}
        self._parse_errors = {}
        for name, control in self.fields.items():
            if name in self._unshown:  # the configuration's own value stands
                continue
            value = control.value
            if name == "seed":
                text = str(value).strip()
                if not text:
                    value = None
                elif text.isdigit():
                    value = int(text)
                else:
                    self._parse_errors[name] = Issue(name, f"{text!r} is not a whole number", "type e.g. 0, or leave it blank")  # fmt: skip
                    continue
            elif name == "stop_sequences":
                value = tuple(s.strip().strip('"') for s in str(value).split(",") if s.strip())
            elif name == "max_context_length":
                value = int(value) or None
            values[name] = value
        return dataclasses.replace(self.config, **values)

    def _changed(self, _change: Any = None) -> None:
        if self._updating:
            return
        self.config = self._read()
        self._refresh()

    def _template_changed(self, change: Any) -> None:
        if self._updating or not change["new"]:
            return
        keep = {"max_context_length": self.config.max_context_length}
        cfg = from_template(change["new"], self.config.model_id, settings=self.settings, **keep)
        self._apply(cfg, f"template {change['new']!r}")

    def _goal_changed(self, change: Any) -> None:
        if self._updating:
            return
        if not change["new"]:
            self._apply(self._base, "the model's own settings")
            return
        self._apply(optimize(self.config, change["new"], hardware=self.hardware), None)

    def _apply(self, cfg: ModelConfiguration, why: str | None) -> None:
        if why:
            reasons = [*cfg.custom_settings.get("reasons", []), why]
            cfg = dataclasses.replace(cfg, custom_settings=dict(cfg.custom_settings, reasons=reasons))  # fmt: skip
        self.set_config(cfg)

    def on_change(self, callback: Callable[[ConfigEditor], None]) -> None:
        self._callbacks.append(callback)

    # -- what the editor shows about the configuration ----------------------------------------
    def _refresh(self) -> None:
        cfg = self.config
        self.validation = validate(cfg)
        by_field: dict[str, list[tuple[str, Issue]]] = {name: [] for name in self.fields}
        others: list[tuple[str, Issue]] = []
        for issue in self._parse_errors.values():
            by_field[issue.field].append(("error", issue))
        for issue in self._unshown.values():
            by_field[issue.field].append(("warning", issue))
        for kind, issues in (("error", self.validation.errors), ("warning", self.validation.warnings)):  # fmt: skip
            for issue in issues:
                target = by_field.get(issue.field)
                (target if target is not None else others).append((kind, issue))
        for name, message in self.messages.items():
            message.value = _message(by_field[name])
            message.layout.display = "" if message.value else "none"
        n_err = len(self.validation.errors) + len(self._parse_errors)
        self.save_button.disabled = n_err > 0
        title = html.escape(cfg.model_id)
        state = (
            f'<span class="nbm-error">{n_err} error{"s" if n_err != 1 else ""}: fix them to save</span>'
            if n_err
            else '<span class="nbm-ok">✓ valid</span>'
        )
        warn = len(self.validation.warnings)
        if warn:
            state += f' <span class="nbm-warn">· {warn} warning{"s" if warn != 1 else ""}</span>'
        self.title.value = f"<h3 style='margin:4px 0'>Configure {title}</h3>{state}" + (
            f"<div>{_message(others)}</div>" if others else ""
        )
        reasons = cfg.custom_settings.get("reasons") or []
        self.reasons.value = (
            "<details><summary>Why these settings</summary><ul>"
            + "".join(f"<li>{html.escape(str(r))}</li>" for r in reasons)
            + "</ul></details>"
            if reasons
            else ""
        )
        self._estimate()
        for callback in self._callbacks:
            callback(self)

    def _estimate(self) -> None:
        if self._memory_model is None:
            self.estimate = None
            self.memory.value = (
                f'<div class="nbm-muted">No memory estimate: {html.escape(self.estimate_error or "")}</div>'
            )  # fmt: skip
            return
        if self.validation.errors or self._parse_errors:
            fields = {i.field for i in self.validation.errors} | set(self._parse_errors)
            if fields & {"dtype", "quantization", "double_quant", "max_context_length", "compute_dtype"}:  # fmt: skip
                self.memory.value = '<div class="nbm-muted">Fix the errors above to see the memory estimate.</div>'  # fmt: skip
                self.estimate = None
                return
        from ..config.memory import _estimate

        try:
            est = _estimate(
                self._memory_model, self.config, context=None, batch=int(self.batch.value),
                hardware=self.hardware, measured=self._measured,
            )  # fmt: skip
        except NBModelsError as exc:
            self.estimate = None
            self.memory.value = f'<div class="nbm-error">{html.escape(str(exc))}</div>'
            return
        self.estimate = est
        self.memory.value = memory_bars(est, self.hardware)

    # -- actions --------------------------------------------------------------------------------
    def save(self) -> Path:
        """Validate and store the configuration as the model's YAML (what Save does)."""
        self.validation.raise_for_errors()
        if self._parse_errors:
            raise NBModelsError("; ".join(str(i) for i in self._parse_errors.values()))
        return save_configuration(self.config, settings=self.settings)

    def _save_clicked(self) -> None:
        try:
            path = self.save()
        except NBModelsError as exc:
            self.status.value = f'<span class="nbm-error">{html.escape(str(exc))}</span>'
            return
        self._base = self.config
        self.status.value = f'<span class="nbm-ok">✓ saved to {html.escape(str(path))}</span>'

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<ConfigEditor {self.config.model_id!r} {self.validation!r}>"


def memory_bars(est: Any, hardware: Any) -> str:
    """The estimate as stacked bars against free RAM (and each GPU's free memory)."""
    parts = [
        ("weights", est.weights_bytes),
        ("KV cache", est.kv_cache_bytes),
        ("activations", est.activations_bytes),
        ("runtime", est.overhead_bytes),
    ]
    peak = est.peak_bytes
    ram = hardware.usable_ram_bytes
    rows = []
    targets = [("RAM free", ram, est.device == "cpu")]
    for g in getattr(hardware, "gpus", ()):
        if g.kind == "cuda":
            targets.append((f"{g.device} free", g.free_bytes or 0, est.device == g.device))
    # what the peak is made of, at its own scale (a small model is a sliver of the RAM bar)
    spans, left = [], 0.0
    rest = max(peak - sum(s for _, s in parts), 0)
    for name, size in [*parts, ("loading", rest)]:
        width = 100.0 * max(size, 0) / max(peak, 1)
        spans.append(
            f'<span title="{name}: {format_size(size)}" style="left:{left:.2f}%;'
            f'width:{width:.2f}%;background:{_COLORS[name]}"></span>'
        )
        left += width
    rows.append(
        f'<div style="margin:6px 0 2px 0">Peak <b>{format_size(peak)}</b>, made of:</div>'
        f'<div class="nbm-membar">{"".join(spans)}</div>'
    )
    for label, limit, used in targets:
        scale = max(limit, peak, 1) * 1.05
        left = 0.0
        spans = []
        if used:
            for name, size in parts:
                width = 100.0 * max(size, 0) / scale
                spans.append(
                    f'<span title="{name}: {format_size(size)}" style="left:{left:.2f}%;'
                    f'width:{width:.2f}%;background:{_COLORS[name]}"></span>'
                )
                left += width
            extra = 100.0 * max(peak - sum(s for _, s in parts), 0) / scale
            if extra > 0:
                spans.append(
                    f'<span title="peak above the parts (loading)" style="left:{left:.2f}%;'
                    f'width:{extra:.2f}%;background:{_COLORS["loading"]}"></span>'
                )
        spans.append(
            f'<span class="limit" title="{label}: {format_size(limit)}" '
            f'style="left:{min(100.0 * limit / scale, 99.6):.2f}%"></span>'
        )
        rows.append(
            f'<div style="margin:6px 0 2px 0">{html.escape(label)}: <b>{format_size(limit)}</b>'
            + (f" · needs up to <b>{format_size(peak)}</b>" if used else " · not used")
            + f'</div><div class="nbm-membar">{"".join(spans)}</div>'
        )
    legend = "".join(
        f'<span><i style="background:{_COLORS[n]}"></i>{n} {format_size(s)}</span>'
        for n, s in parts
    )
    ok = est.verdict != "won't fit"
    verdict = f'<span class="{"nbm-verdict-ok" if ok else "nbm-verdict-bad"}">{html.escape(est.verdict)}</span>'
    phases = (
        f"load peak {format_size(est.load_peak_bytes)} · steady {format_size(est.steady_bytes)} · "
        f"generate peak {format_size(est.generate_peak_bytes)}"
        + (f" · runs vary by up to {format_size(est.spread_bytes)}" if est.spread_bytes else "")
    )
    advice = "".join(f"<li>{html.escape(a)}</li>" for a in est.advice)
    return (
        f'<div class="nbm-cfg-section">Memory: {verdict} '
        f'<span class="nbm-muted">({est.context} tokens × batch {est.batch}, {html.escape(est.quantization)}, '
        f"{html.escape(est.dtype)})</span></div>"
        + "".join(rows)
        + f'<div class="nbm-memlegend">{legend}</div>'
        + f'<div class="nbm-muted">{phases}</div>'
        + (f"<div>To fit:<ul>{advice}</ul></div>" if advice else "")
    )
