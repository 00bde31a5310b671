"""``nbmodels.hardware()``: what psutil and torch say about this machine, and GPUs simulated
through torch's own functions (this machine has none)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

import nbmodels
from nbmodels import machine


def test_the_report_is_what_psutil_and_torch_say() -> None:
    import torch

    hw = nbmodels.hardware()
    assert hw.cpu_count == os.cpu_count()
    assert hw.ram_total_bytes == psutil.virtual_memory().total
    assert 0 < hw.usable_ram_bytes <= hw.ram_available_bytes <= hw.ram_total_bytes
    assert hw.torch_version == torch.__version__
    assert len([g for g in hw.gpus if g.kind == "cuda"]) == (
        torch.cuda.device_count() if torch.cuda.is_available() else 0
    )
    if not hw.gpus:
        assert hw.best_device == "cpu"
    assert f"{hw.cpu_count} cores" in repr(hw) and "best device" in hw._repr_html_()
    assert hw.bitsandbytes is None  # not probed unless asked


def test_simulated_gpus_are_reported_with_their_free_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    gib = 2**30
    devices = [("NVIDIA A10", 24 * gib, 3 * gib), ("NVIDIA H200", 141 * gib, 120 * gib)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(devices))
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda i: SimpleNamespace(name=devices[i][0], total_memory=devices[i][1], major=9, minor=0),
    )
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (devices[i][2], devices[i][1]))
    hw = nbmodels.hardware()
    assert [(g.device, g.name, g.free_bytes) for g in hw.gpus if g.kind == "cuda"] == [
        ("cuda:0", "NVIDIA A10", 3 * gib),
        ("cuda:1", "NVIDIA H200", 120 * gib),
    ]
    assert hw.best_device == "cuda:1"  # the most free memory, not the first
    assert "NVIDIA H200 120.0 GiB/141.0 GiB free" in repr(hw)


def test_a_broken_driver_is_a_note_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def broken() -> bool:
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(torch.cuda, "is_available", broken)
    hw = nbmodels.hardware()
    assert hw.best_device in ("cpu", "mps")
    assert any("insufficient" in n for n in hw.notes)


@pytest.mark.parametrize(("text", "expected"), [("1073741824", 2**30), ("max", None)])
def test_a_container_memory_limit_caps_what_is_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: int | None
) -> None:
    limit = tmp_path / "memory.max"
    limit.write_text(text + "\n")
    monkeypatch.setattr(machine, "_CGROUP_LIMITS", (limit,))
    hw = nbmodels.hardware()
    assert hw.ram_limit_bytes == expected
    if expected is not None:
        assert hw.usable_ram_bytes == min(expected, hw.ram_available_bytes)
        assert "container limit" in hw._repr_html_()


def test_bitsandbytes_is_probed_for_real_when_asked() -> None:
    pytest.importorskip("bitsandbytes")
    hw = nbmodels.hardware(probe_bitsandbytes=True)
    assert hw.bitsandbytes is True, hw.bitsandbytes_note  # 4-bit works on this CPU
    assert "4-bit on" in hw.bitsandbytes_note and "bitsandbytes works" in repr(hw)
