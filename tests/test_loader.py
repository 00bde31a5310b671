"""nbmodels.engine.loader: weights read tensor by tensor give the very model from_pretrained gives."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

needs_bnb = pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs bitsandbytes")  # fmt: skip


def _digest(model: Any) -> str:
    import torch

    h = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        if isinstance(value, torch.Tensor) and value.numel():
            h.update(name.encode())
            h.update(str(value.dtype).encode())
            h.update(value.detach().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _modes() -> dict[str, Any]:
    import torch
    from transformers import BitsAndBytesConfig

    return {
        "bf16": (torch.bfloat16, None),
        "fp16": (torch.float16, None),
        "8bit": (torch.float32, BitsAndBytesConfig(load_in_8bit=True)),
        "nf4": (
            torch.float32,
            BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32
            ),
        ),
        "nf4-dq": (
            torch.bfloat16,
            BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16,
            ),
        ),
        "fp4": (torch.float32, BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="fp4")),
    }


@pytest.mark.parametrize(
    "mode", ["bf16", "fp16", pytest.param("8bit", marks=needs_bnb), pytest.param("nf4", marks=needs_bnb),
             pytest.param("nf4-dq", marks=needs_bnb), pytest.param("fp4", marks=needs_bnb)],
)  # fmt: skip
def test_streaming_load_is_byte_for_byte_from_pretrained(mode: str, llama_384: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nbmodels.engine.loader import load_streaming

    dtype, quant = _modes()[mode]
    kwargs = {"quantization_config": quant} if quant is not None else {}
    plain = AutoModelForCausalLM.from_pretrained(llama_384, dtype=dtype, **kwargs).eval()
    ours = load_streaming(AutoModelForCausalLM, llama_384, dtype=dtype, quantization=quant)
    assert ours is not None
    assert _digest(ours) == _digest(plain)
    tok = AutoTokenizer.from_pretrained(llama_384)
    enc = tok("The model said", return_tensors="pt")
    with torch.inference_mode():
        a = plain.generate(**enc, max_new_tokens=10, do_sample=False, pad_token_id=tok.eos_token_id)
        b = ours.generate(**enc, max_new_tokens=10, do_sample=False, pad_token_id=tok.eos_token_id)
    assert a.tolist() == b.tolist()
    assert ours.generation_config.eos_token_id == plain.generation_config.eos_token_id
    if quant is not None:
        assert getattr(ours, "is_quantized", False) and ours.hf_quantizer is not None


def test_it_steps_aside_where_from_pretrained_knows_better(llama_384: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    from nbmodels.engine.loader import load_streaming

    # same dtype, no quantization: from_pretrained maps the file and copies nothing
    assert load_streaming(AutoModelForCausalLM, llama_384, dtype=torch.float32) is None
    # a checkpoint whose names are not the model's own (a legacy prefix): left to
    # from_pretrained's key conversions rather than loaded half
    renamed = tmp_path / "renamed"
    shutil.copytree(llama_384, renamed)
    tensors = load_file(renamed / "model.safetensors")
    save_file({f"legacy.{k}": v for k, v in tensors.items()}, renamed / "model.safetensors")
    assert load_streaming(AutoModelForCausalLM, renamed, dtype=torch.bfloat16) is None
    # no safetensors at all
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text(
        json.dumps(json.loads((llama_384 / "config.json").read_text()))
    )
    assert load_streaming(AutoModelForCausalLM, empty, dtype=torch.bfloat16) is None


def test_sharded_checkpoints_load_shard_by_shard(llama_384: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from nbmodels.engine.loader import load_streaming

    sharded = tmp_path / "sharded"
    AutoModelForCausalLM.from_pretrained(llama_384, dtype=torch.float32).save_pretrained(sharded, max_shard_size="2MB")  # fmt: skip
    assert (sharded / "model.safetensors.index.json").exists()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(llama_384 / name, sharded / name)
    ours = load_streaming(AutoModelForCausalLM, sharded, dtype=torch.bfloat16)
    plain = AutoModelForCausalLM.from_pretrained(llama_384, dtype=torch.bfloat16)
    assert ours is not None and _digest(ours) == _digest(plain)


@needs_bnb
@pytest.mark.parametrize("mode", ["8bit", "nf4"])
def test_a_quantized_weight_is_never_read_whole(mode: str, llama_384: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The load's peak is the model plus one slice: a quantized matrix comes from the file a
    slice at a time, never as one fp32 source beside the model."""
    from transformers import AutoModelForCausalLM

    from nbmodels.engine import loader

    reads: list[int] = []
    real = loader._read_flat

    def counted(f: Any, offset: int, nbytes: int, dtype: Any) -> Any:
        reads.append(nbytes)
        return real(f, offset, nbytes, dtype)

    monkeypatch.setattr(loader, "_read_flat", counted)
    dtype, quant = _modes()[mode]
    model = loader.load_streaming(AutoModelForCausalLM, llama_384, dtype=dtype, quantization=quant)
    assert model is not None
    header, _ = loader.read_header(llama_384 / "model.safetensors")
    linear = {n: v for n, v in header.items() if ".mlp." in n or ".self_attn." in n}
    sizes = {v["data_offsets"][1] - v["data_offsets"][0] for v in linear.values()}
    big = {n for n in sizes if n > loader._CHUNK * 4}  # bigger than one slice
    assert big, sizes
    assert not big & set(reads), "a quantized matrix was read whole"
    assert max(reads) < max(big)
    # every byte of the file's tensors was read, once
    assert sum(reads) == sum(v["data_offsets"][1] - v["data_offsets"][0] for v in header.values())
