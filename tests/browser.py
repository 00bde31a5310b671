"""Drive a real JupyterLab in Debian's headless Chromium (for tests marked ``browser``).

    with JupyterLab(root, env=env) as lab, chromium_page() as page:
        open_notebook(page, lab, "demo.ipynb")
        run_cell(page, 0)

JupyterLab runs as a child process on a free loopback port with a random token, its config,
runtime, settings and workspaces under ``root`` (nothing of the user's is read or written), and
the whole process tree (server and kernels) is killed when the block ends. The browser is the
system's ``/usr/bin/chromium``: never ``playwright install``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = [
    "ARTIFACTS",
    "BROWSER_MARKS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "JupyterLab",
    "chromium_page",
    "hide_left_area",
    "open_notebook",
    "run_cell",
    "wait_kernel_idle",
    "write_notebook",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: where the browser tests leave their screenshots (the README's tour shows some)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
#: a browser test module's ``pytestmark``: skipped on a laptop without Chromium; in CI
#: (CI=true) a missing browser is a failure
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason=f"{CHROMIUM} is not installed (make browser-deps)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server in a child process; a context manager that cleans up after itself."""

    def __init__(
        self,
        root: Path,
        *,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.root = Path(root)
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.startup_timeout = startup_timeout
        self.extra_env = dict(env or {})
        self.state = self.root.parent / f".{self.root.name}-jupyter"
        self.log_path = self.state / "jupyterlab.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def start(self) -> JupyterLab:
        self.root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for name in ("config", "runtime", "settings", "workspaces"):
            (self.state / name).mkdir(parents=True, exist_ok=True)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.state / "config"),
            JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.state / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.state / "workspaces"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        # no news or update toasts over the page
        quiet = self.state / "settings" / "@jupyterlab" / "apputils-extension"
        quiet.mkdir(parents=True, exist_ok=True)
        (quiet / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env.update(self.extra_env)
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True",
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kernels die with it
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Poll /api/status until the server answers (a condition, not a fixed sleep)."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(self.url("api/status"), timeout=2)
                if response.status_code == 200:
                    return
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"JupyterLab did not answer in {self.startup_timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and every kernel it started (its whole process group)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # kernels left in the group
            os.killpg(process.pid, signal.SIGKILL)

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A minimal .ipynb with these code cells (and the venv's python3 kernel)."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))
    return path


@contextlib.contextmanager
def chromium_page(
    *, width: int = 1400, height: int = 1000, timeout_ms: float = 60_000
) -> Iterator[Any]:
    """A Playwright page in Debian's Chromium, headless; closed (with the browser) at the end."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (make browser-deps)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


def wait_kernel_idle(page: Any, *, timeout_ms: float = 90_000) -> None:
    """Wait until the notebook's kernel is connected and idle (safe to run cells)."""
    page.wait_for_selector(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']",
        timeout=timeout_ms,
    )
    # the indicator is per panel; the app's session must be ready too
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const s = w && w.sessionContext;
            return !!(s && s.isReady && s.session && s.session.kernel
                      && s.session.kernel.connectionStatus === 'connected'
                      && s.session.kernel.status === 'idle');
        }""",
        timeout=timeout_ms,
    )


def open_notebook(page: Any, lab: JupyterLab, path: str) -> None:
    """Open ``path`` (relative to the server root) and wait for its kernel."""
    page.goto(lab.url(f"lab/tree/{path}"), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    wait_kernel_idle(page)


def hide_left_area(page: Any) -> None:
    """Collapse the file browser so the notebook gets the page's width."""
    page.evaluate(
        """async () => {
            const app = window.jupyterapp;
            if (!app.shell.leftCollapsed) {
                await app.commands.execute('application:toggle-left-area');
            }
        }"""
    )


def run_cell(page: Any, index: int, *, timeout_ms: float = 120_000) -> None:
    """Run cell ``index`` of the current notebook (click it, Shift+Enter) and wait for idle."""
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputArea-prompt")
    # "[n]:" once done ("[*]:" while running)
    page.wait_for_function(
        """(el) => /\\[\\d+\\]/.test(el.textContent || '')""",
        arg=prompt.element_handle(),
        timeout=timeout_ms,
    )
    wait_kernel_idle(page, timeout_ms=timeout_ms)
