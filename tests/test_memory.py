"""The memory estimate: its arithmetic, its sources (folder, Hub headers), its verdict, and
the estimate against memory measured on real loaded models."""

from __future__ import annotations

import dataclasses
import html
import importlib.util
import sys
from pathlib import Path

import pytest

import nbmodels
from nbmodels.config.memory import Architecture, estimate_memory
from nbmodels.errors import ConfigurationError
from nbmodels.machine import hardware

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

from fixtures_hub import TinyModels  # noqa: E402

CHAT = "nbmodels-demo/tiny-llama-chat"
GiB = 2**30


def _qwen_sliding() -> Architecture:
    return Architecture.from_config(
        {
            "model_type": "qwen2",
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "num_key_value_heads": 2,
            "intermediate_size": 3072,
            "vocab_size": 32000,
            "sliding_window": 256,
            "layer_types": ["full_attention"] * 6 + ["sliding_attention"] * 6,
        }
    )


def test_kv_cache_counts_grouped_heads_and_caps_sliding_layers() -> None:
    arch = _qwen_sliding()
    assert (arch.kv_heads, arch.head_dim, arch.sliding_layers) == (2, 64, 6)
    per_token_layer = 2 * 2 * 64 * 4  # K and V, 2 KV heads (not 12), head size 64, fp32
    assert arch.kv_cache_bytes(1000, 1, 4) == per_token_layer * (6 * 1000 + 6 * 256)
    assert arch.kv_cache_bytes(100, 2, 2) == 2 * 2 * 64 * 2 * 2 * 12 * 100  # under the window
    bert = Architecture.from_config(
        {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    )
    assert bert.encoder and bert.kv_cache_bytes(512, 8, 4) == 0


def test_config_without_a_shape_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="hidden size"):
        Architecture.from_config({"model_type": "mystery"})


def test_bitsandbytes_quantizes_only_the_linear_layers(tiny_models: TinyModels) -> None:
    folder = tiny_models[CHAT]
    fp32 = estimate_memory(folder, dtype="float32")
    int8 = estimate_memory(folder, dtype="float32", quantization="8bit")
    nf4 = estimate_memory(folder, dtype="float32", quantization="nf4")
    dq = estimate_memory(folder, dtype="float32", quantization="nf4", double_quant=True)
    assert fp32.weights_bytes > int8.weights_bytes > nf4.weights_bytes > dq.weights_bytes
    # the embeddings stay in float32: 4-bit is far from an eighth of fp32 on a tiny model
    assert nf4.weights_bytes > fp32.weights_bytes / 8 * 1.5
    # accelerate's method divides everything (and keeps no KV cache, no runtime)
    assert nf4.accelerate_bytes == fp32.accelerate_bytes // 8
    assert nf4.generate_peak_bytes > nf4.accelerate_bytes


def test_estimate_grows_with_context_and_batch(tiny_models: TinyModels) -> None:
    folder = tiny_models[CHAT]
    short = estimate_memory(folder, context=128)
    long = estimate_memory(folder, context=2048)
    wide = estimate_memory(folder, context=2048, batch=4)
    assert short.kv_cache_bytes < long.kv_cache_bytes < wide.kv_cache_bytes
    assert wide.kv_cache_bytes == 4 * long.kv_cache_bytes
    assert short.generate_peak_bytes < long.generate_peak_bytes < wide.generate_peak_bytes
    with pytest.raises(ConfigurationError, match="positive"):
        estimate_memory(folder, context=0)


def test_verdict_and_advice_on_a_small_machine(tiny_models: TinyModels) -> None:
    folder = tiny_models[CHAT]
    real = hardware()
    assert estimate_memory(folder).verdict == "fits in RAM"
    est = estimate_memory(folder, dtype="float32")
    tiny = dataclasses.replace(
        real, gpus=(), ram_available_bytes=est.peak_bytes // 2, ram_limit_bytes=None
    )
    short = estimate_memory(folder, dtype="float32", hardware=tiny)
    assert short.verdict == "won't fit" and short.fits is False
    assert short.advice  # says what to change
    assert "won't fit" in repr(short) and "won't fit" in html.unescape(short._repr_html_())


def test_estimate_from_the_hub_reads_headers_not_weights(
    hub_endpoint: str, hub_server: object, tiny_models: TinyModels
) -> None:
    from nbmodels.settings import default_settings

    local = estimate_memory(tiny_models[CHAT])
    remote = estimate_memory(CHAT)
    assert remote.parameters == local.parameters
    assert remote.weights_bytes == local.weights_bytes
    assert remote.generate_peak_bytes == local.generate_peak_bytes
    cache = default_settings().hf_cache
    fetched = [p.name for p in Path(cache).rglob("*") if p.is_file()]
    assert not any(name.endswith(".safetensors") for name in fetched)  # headers only
    assert any(name == "config.json" for name in fetched)


def test_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"config\.json"):
        estimate_memory(tmp_path)
    with pytest.raises(ConfigurationError, match="Hub id"):
        estimate_memory("no-slash-here")


def test_public_api() -> None:
    assert nbmodels.estimate_memory is estimate_memory
    assert "estimate_memory" in nbmodels.__all__


# -- the estimate against measured memory ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "options", "bound"),
    [
        ("fp32", {"dtype": "float32"}, 0.10),
        ("bf16", {"dtype": "bfloat16"}, 0.10),
        # bitsandbytes 4-bit: the allocator keeps temporaries; identical runs differ
        pytest.param(
            "nf4",
            {"dtype": "float32", "quantization": "nf4"},
            0.15,
            marks=pytest.mark.skipif(
                importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes"
            ),
        ),
    ],
)
def test_estimate_within_bound_of_measured_peak(
    mode: str, options: dict[str, object], bound: float, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import os

    from memory_probe import build, measure_in_subprocess

    cache = os.environ.get("NBMODELS_TEST_MODELS_CACHE")  # where the tiny models are built too
    base = (Path(cache) if cache else Path.home() / ".cache" / "nbmodels-test-models") / "memory"
    folder = build("llama-gqa-30m", base)
    measured = measure_in_subprocess(folder, mode, prompt=32, new_tokens=128)
    est = estimate_memory(folder, context=160, **options)
    for key in ("load_peak", "generate_peak"):
        got = measured[f"{key}_mib"] * 2**20
        want = getattr(est, f"{key}_bytes")
        assert abs(want - got) <= bound * got + est.spread_bytes, (key, got, want, measured)
