"""A chat playground: a thin view over :class:`nbmodels.engine.handle.ModelHandle`.

A model picker (the registry's available models), sampling sliders, the conversation, a
message box with Send and Stop, and a status line (tokens/s, time to first token, memory).
The reply streams into the conversation from a background thread by setting widget values
(widget state reaches the browser from any thread; printing with ``with output:`` from
another thread lands in whichever cell runs at that moment on some ipykernel versions).

    >>> nbmodels.playground()               # pick a registered model
    >>> nbmodels.playground(handle)         # a model already loaded

Named ``chatbox``: a submodule ``playground`` would replace the function
``nbmodels.widgets.playground`` once imported.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w

from ..errors import NBModelsError
from ._common import TABLE_CSS, hrow

__all__ = ["Playground"]

_CSS = """
<style>
.nbm-chat { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 4px; padding: 8px;
  min-height: 160px; max-height: 420px; overflow: auto; background: var(--jp-layout-color0, #fff); }
.nbm-msg { margin: 4px 0; white-space: pre-wrap; line-height: 1.4; }
.nbm-msg b { color: var(--jp-ui-font-color2, #666); font-weight: 600; margin-right: 6px; }
.nbm-msg.user { color: var(--jp-ui-font-color1, #222); }
.nbm-msg.assistant { color: #0d47a1; }
.nbm-pg-row { align-items: center; gap: 8px; }
</style>
"""


class Playground:
    """Chat with a model, watching the reply stream; Stop ends it within a token."""

    def __init__(self, handle: Any = None, *, registry: Any = None, interval: float = 0.05) -> None:
        self.handle = handle
        self.registry = registry
        self.interval = interval
        self._thread: threading.Thread | None = None
        self._partial = ""
        self.picker = w.Dropdown(description="Model", layout=w.Layout(width="480px"))
        self.picker.add_class("nbm-pg-picker")
        self.load_button = w.Button(description="Load", icon="play", layout=w.Layout(width="100px"))
        self.temperature = w.FloatSlider(value=0.7, min=0.0, max=2.0, step=0.05, description="temperature", readout_format=".2f", style={"description_width": "90px"}, layout=w.Layout(width="330px"))  # fmt: skip
        self.top_p = w.FloatSlider(value=0.9, min=0.05, max=1.0, step=0.05, description="top p", readout_format=".2f", style={"description_width": "90px"}, layout=w.Layout(width="330px"))  # fmt: skip
        self.max_tokens = w.IntSlider(value=128, min=1, max=2048, description="max tokens", style={"description_width": "90px"}, layout=w.Layout(width="330px"))  # fmt: skip
        self.system = w.Text(description="system", placeholder="system prompt", style={"description_width": "90px"}, layout=w.Layout(width="660px"))  # fmt: skip
        self.conversation = w.HTML(layout=w.Layout(width="100%"))
        self.message = w.Textarea(placeholder="Type a message, then Send", rows=2, layout=w.Layout(width="560px"))  # fmt: skip
        self.message.add_class("nbm-pg-message")
        self.send_button = w.Button(description="Send", icon="paper-plane", button_style="primary", layout=w.Layout(width="100px"))  # fmt: skip
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", layout=w.Layout(width="100px"), disabled=True)  # fmt: skip
        self.clear_button = w.Button(description="Clear", icon="eraser", layout=w.Layout(width="100px"))  # fmt: skip
        self.status = w.HTML()
        self.status.add_class("nbm-pg-status")
        self.load_button.on_click(lambda _b: self._load())
        self.send_button.on_click(lambda _b: self.send())
        self.stop_button.on_click(lambda _b: self.stop())
        self.clear_button.on_click(lambda _b: self.clear())

        def row(*children: w.Widget) -> w.HBox:
            return hrow(*children, cls="nbm-pg-row")

        self.widget = w.VBox(
            [
                w.HTML(TABLE_CSS + _CSS),
                row(self.picker, self.load_button),
                row(self.temperature, self.top_p),
                row(self.max_tokens),
                row(self.system),
                self.conversation,
                row(self.message, self.send_button, self.stop_button, self.clear_button),
                self.status,
            ],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("nbm-playground")
        self._fill_picker()
        if handle is not None:
            self._attach(handle)
        self._render()

    # -- model -----------------------------------------------------------------------------------
    def _fill_picker(self) -> None:
        options: list[tuple[str, str]] = []
        if self.handle is not None:
            options.append((f"{self.handle.model_id} (loaded)", "__loaded__"))
        reg = self.registry
        if reg is None:
            from ..storage.registry import default_registry

            reg = default_registry()
        try:
            options += [
                (f"{e.metadata.id}", e.metadata.local_path or e.metadata.id)
                for e in reg.available()
            ]
        except NBModelsError as exc:
            self.status.value = f"<span class='nbm-warn'>registry: {html.escape(str(exc))}</span>"
        self.picker.options = options or [("no model: load one with nbmodels.load()", "")]
        self.picker.value = self.picker.options[0][1]  # never a blank dropdown
        self.load_button.disabled = not options

    def _load(self) -> None:
        value = self.picker.value
        if not value or value == "__loaded__":
            return
        from ..engine.handle import load

        self.status.value = "<span class='nbm-muted'>loading…</span>"
        try:
            self._attach(load(value))
        except NBModelsError as exc:
            self.status.value = f"<span class='nbm-error'>{html.escape(str(exc))}</span>"

    def _attach(self, handle: Any) -> None:
        self.handle = handle
        cfg = getattr(handle, "config", None)
        if cfg is not None:
            self.temperature.value = float(cfg.temperature)
            self.top_p.value = max(0.05, float(cfg.top_p))
            limit = cfg.max_context_length or 2048
            self.max_tokens.max = max(1, min(4096, limit - 1))
            self.max_tokens.value = min(cfg.max_tokens, self.max_tokens.max)
            self.system.value = cfg.system_prompt
        self.status.value = self._memory()

    def _memory(self) -> str:
        h = self.handle
        if h is None:
            return ""
        from ..units import format_size

        # what the load added to the process, measured; at least the weights themselves (a
        # tiny model's load is lost in the allocator's noise)
        foot = getattr(h, "footprint_bytes", 0) or 0
        model = getattr(h, "model", None)
        if model is not None and hasattr(model, "get_memory_footprint"):
            foot = max(foot, int(model.get_memory_footprint()))
        return f"<span class='nbm-muted'>{html.escape(h.model_id)} · {format_size(foot)} resident</span>"

    # -- chat ------------------------------------------------------------------------------------
    def send(self, text: str | None = None) -> threading.Thread | None:
        """Send ``text`` (default: the message box); the reply streams in a thread."""
        text = (text if text is not None else self.message.value).strip()
        if not text or self.handle is None or (self._thread and self._thread.is_alive()):
            return None
        self.message.value = ""
        h = self.handle
        if getattr(h, "config", None) is not None and self.system.value != h.config.system_prompt and not h.history:  # fmt: skip
            import dataclasses

            h.config = dataclasses.replace(h.config, system_prompt=self.system.value)
        self._pending = text
        self._partial = ""
        self.send_button.disabled, self.stop_button.disabled = True, False
        options = {"temperature": self.temperature.value, "top_p": self.top_p.value,
                   "max_tokens": self.max_tokens.value}  # fmt: skip
        self._thread = threading.Thread(target=self._reply, args=(text, options), daemon=True, name="nbmodels-playground")  # fmt: skip
        self._thread.start()
        return self._thread

    def _reply(self, text: str, options: dict[str, Any]) -> None:
        start = time.perf_counter()
        first: float | None = None
        last_render = 0.0
        try:
            for chunk in self.handle.chat(text, stream=True, **options):
                if first is None:
                    first = time.perf_counter() - start
                self._partial += chunk
                now = time.perf_counter()
                if now - last_render >= self.interval:
                    self._render()
                    last_render = now
            r = getattr(self.handle, "last_response", None)
            tps = (
                f"{r.tokens_per_second:.1f} tokens/s"
                if r is not None and r.tokens_per_second
                else ""
            )
            n = f"{r.completion_tokens} tokens" if r is not None else ""
            why = {"stopped": "stopped", "stop": "done", "length": "max tokens reached"}.get(getattr(r, "finish_reason", ""), "")  # fmt: skip
            ttft = f"first token {1000 * first:.0f} ms" if first is not None else ""
            self.status.value = ("<span class='nbm-ok'>" + " · ".join(x for x in (why, n, tps, ttft) if x) + "</span> " + self._memory())  # fmt: skip
        except NBModelsError as exc:
            self.status.value = f"<span class='nbm-error'>{html.escape(str(exc))}</span>"
        except Exception as exc:  # shown, never a traceback in another cell
            self.status.value = f"<span class='nbm-error'>{html.escape(type(exc).__name__ + ': ' + str(exc))}</span>"  # fmt: skip
        finally:
            self._partial = ""
            self._pending = ""
            self.send_button.disabled, self.stop_button.disabled = False, True
            self._render()

    def stop(self) -> None:
        """End the reply being generated (within one token)."""
        if self.handle is not None:
            self.handle.stop()

    def clear(self) -> None:
        if self.handle is not None:
            self.handle.reset()
        self._render()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _render(self) -> None:
        history = list(getattr(self.handle, "history", []) or [])
        if getattr(self, "_pending", "") and (
            not history or history[-1].get("content") != self._pending
        ):
            history += [{"role": "user", "content": self._pending}, {"role": "assistant", "content": self._partial + "▌"}]  # fmt: skip
        parts = [
            f"<div class='nbm-msg {html.escape(m['role'])}'><b>{html.escape(m['role'])}</b>{html.escape(m['content'])}</div>"
            for m in history
            if m.get("role") != "system"
        ]
        self.conversation.value = (
            "<div class='nbm-chat'>"
            + ("".join(parts) or "<div class='nbm-empty'>No messages yet.</div>")
            + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Playground {getattr(self.handle, 'model_id', None)!r}>"
