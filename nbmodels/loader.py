"""Loading safetensors weights one tensor at a time.

Why by hand: ``from_pretrained`` memory-maps every shard and keeps the mapping alive while
it converts dtypes and while bitsandbytes quantizes, so a load peaks at the file plus the
copies plus bitsandbytes' temporaries (a 100M Llama in nf4: ~1 GB for a 53 MiB model). This
loader reads each tensor with plain file reads (no mapping, so the page cache is not counted
against the process), converts or quantizes it with transformers' own quantizer operations,
puts it in the model and lets the fp32 copy go before reading the next one. The peak is the
loaded model plus one tensor.

It takes the common case only: safetensors whose names are the model's own parameter names,
on the CPU. Anything else (renamed or fused checkpoint keys, GGUF, a ``device_map``, remote
code) returns ``None`` and the caller uses ``from_pretrained``.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .weights import _read_header

_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
}  # fmt: skip


def _shards(folder: Path) -> list[Path] | None:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text()).get("weight_map", {})
        return [folder / name for name in dict.fromkeys(weight_map.values())]
    single = folder / "model.safetensors"
    return [single] if single.is_file() else None


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """A safetensors file's header (name -> dtype, shape, offsets) and where its data starts."""
    with open(path, "rb") as f:
        raw = _read_header(f, path.stat().st_size, path.name)
    header = json.loads(raw)
    header.pop("__metadata__", None)
    return header, 8 + len(raw)


def iter_tensors(path: Path) -> Iterator[tuple[str, Any]]:
    """Each tensor of a safetensors file in file order, read into its own buffer."""
    import torch

    header, start = read_header(path)
    with open(path, "rb", buffering=0) as f:
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            begin, end = info["data_offsets"]
            # an anonymous mapping, not a bytearray: freed buffers go straight back to the
            # system, and they do not raise glibc's mmap threshold (which would put the
            # model's own tensors in the heap, where an unload cannot give them back)
            buf = mmap.mmap(-1, end - begin) if end > begin else bytearray()
            f.seek(start + begin)
            f.readinto(buf)
            dtype = getattr(torch, _DTYPES[info["dtype"]])
            tensor = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
            yield name, tensor.reshape(info["shape"])


def _converted(tensor: Any, dtype: Any) -> Any:
    """``tensor`` as ``dtype``, a big one in an anonymous mapping of its own. ``tensor.to``
    puts it in the malloc heap, and whether an unload gives heap memory back depends on
    what the process did before (glibc raises its mmap threshold as big blocks are freed):
    an unload in a busy kernel gave back half of a bf16 model. A mapping of its own goes
    back to the system whole when the tensor is freed."""
    import torch

    nbytes = tensor.numel() * torch.empty(0, dtype=dtype).element_size()
    if nbytes < _OWN_MAPPING:
        return tensor.to(dtype)
    out = torch.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(tensor.shape)
    out.copy_(tensor)
    return out


_OWN_MAPPING = 1 << 16  # bytes: below this a page-rounded mapping of its own would waste


def load_streaming(
    model_class: Any, folder: Path, *, dtype: Any, quantization: Any = None,
    attn_implementation: str | None = None,
) -> Any | None:  # fmt: skip
    """The model from ``folder`` with its weights read tensor by tensor, or ``None`` where
    this loader does not apply (see the module's docstring)."""
    import torch
    import transformers
    from accelerate import init_empty_weights
    from transformers.quantizers.quantizers_utils import get_module_from_name

    shards = _shards(folder)
    if not shards or not all(s.is_file() for s in shards):
        return None
    headers = [read_header(s)[0] for s in shards]
    file_dtypes = {
        v["dtype"]
        for h in headers
        for v in h.values()
        if v["dtype"] in ("F32", "F16", "BF16", "F64")
    }
    config = transformers.AutoConfig.from_pretrained(str(folder))
    if dtype == "auto":
        dtype = (
            getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or torch.float32
        )
        dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if quantization is None and {_DTYPES[d] for d in file_dtypes} <= {
        str(dtype).removeprefix("torch.")
    }:
        return None  # same dtype: from_pretrained maps the file's pages and copies nothing
    kwargs: dict[str, Any] = {"dtype": dtype}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    with init_empty_weights(include_buffers=False):
        model = model_class.from_config(config, **kwargs)
    quantizer = None
    if quantization is not None:
        from transformers.quantizers import AutoHfQuantizer

        quantizer = AutoHfQuantizer.from_config(quantization, pre_quantized=False)
        quantizer.validate_environment(device_map=None, weights_only=True)
        with transformers.modeling_utils.local_torch_dtype(dtype, type(model).__name__):
            quantizer.preprocess_model(model=model, dtype=dtype, device_map=None, checkpoint_files=[str(s) for s in shards], use_kernels=False)  # fmt: skip
    own = dict(model.named_parameters(remove_duplicate=False))
    own.update(dict(model.named_buffers(remove_duplicate=False)))
    names = {name for h in headers for name in h}
    tied = set(getattr(model, "all_tied_weights_keys", {}) or {})
    if names - set(own) or set(own) - names - tied - _non_persistent(model):
        return None  # renamed, fused or missing keys: from_pretrained knows the conversions
    quantize = quantizer.get_quantize_ops() if quantizer is not None else None
    for shard in shards:
        for name, tensor in iter_tensors(shard):
            old = own[name]
            target = old.dtype if old.is_floating_point() else None
            if target is not None and tensor.dtype != target:
                tensor = _converted(tensor, target)
            module, attr = get_module_from_name(model, name)
            if (
                quantize is not None
                and quantizer is not None
                and quantizer.param_needs_quantization(model, name)
            ):
                value = _quantize_in_chunks(tensor, old, module)
                if value is None:  # a layout the chunked path does not know
                    value = quantize.convert({name: tensor}, model=model, full_layer_name=name)[
                        name
                    ]
            elif attr in module._buffers:
                module._buffers[attr] = tensor
                continue
            else:
                value = torch.nn.Parameter(tensor, requires_grad=False)
            setattr(module, attr, value)
            del tensor, value
            trim_heap()
    model.tie_weights()
    if any(p.device.type == "meta" for p in model.parameters()):
        return None
    if quantizer is not None:
        model.config.quantization_config = quantizer.quantization_config
        model.hf_quantizer = quantizer
        quantizer.postprocess_model(model)
    if model.can_generate() and (folder / "generation_config.json").is_file():
        model.generation_config = transformers.GenerationConfig.from_pretrained(str(folder))
    model.eval()
    return model


_CHUNK = (
    1 << 18
)  # elements per quantization step: bitsandbytes' CPU kernels make ~4 fp32 temporaries


def _quantize_in_chunks(weight: Any, old: Any, module: Any) -> Any | None:
    """A weight quantized the way bitsandbytes does it (``Params4bit._quantize``,
    ``Int8Params._quantize``), a slice at a time: its CPU kernels make several fp32
    temporaries the size of their input, which for one large matrix is more than a small
    model's whole quantized footprint. The result is the same bytes: 4-bit quantizes blocks
    of ``blocksize`` consecutive elements and 8-bit whole rows, and slices are cut on those
    boundaries (the loader's tests compare the state dict with ``from_pretrained``'s)."""
    import bitsandbytes as bnb
    import torch
    from bitsandbytes import functional as F

    flat = weight.contiguous()
    if isinstance(old, bnb.nn.Params4bit):
        size = old.blocksize or 64
        step = max(size, _CHUNK // size * size)
        data = flat.reshape(-1)
        packed, absmax = [], []
        for i in range(0, data.numel(), step):
            out, state = F.quantize_4bit(data[i : i + step], blocksize=size, compress_statistics=False,
                                         quant_type=old.quant_type, quant_storage=old.quant_storage)  # fmt: skip
            packed.append(out)
            absmax.append(state.absmax)
        state.absmax, state.shape = torch.cat(absmax), flat.shape
        if old.compress_statistics:  # as F.quantize_4bit does with the whole tensor's absmax
            state.offset = state.absmax.mean()
            state.absmax, state.state2 = F.quantize_blockwise(
                state.absmax - state.offset, blocksize=256
            )
            state.nested = True
        value = bnb.nn.Params4bit(
            torch.cat(packed), requires_grad=False, quant_state=state, blocksize=size,
            compress_statistics=old.compress_statistics, quant_type=old.quant_type,
            quant_storage=old.quant_storage, module=module, bnb_quantized=True,
        )  # fmt: skip
        module.quant_state = state
        return value
    if (
        isinstance(old, bnb.nn.Int8Params)
        and not getattr(old, "has_fp16_weights", True)
        and flat.dim() == 2
    ):
        rows = max(1, _CHUNK // max(1, flat.shape[1]))
        cbs, scbs = [], []
        for i in range(0, flat.shape[0], rows):
            cb, scb, _ = F.int8_vectorwise_quant(flat[i : i + rows].to(torch.float16))
            cbs.append(cb)
            scbs.append(scb)
        cb = torch.cat(cbs)
        return bnb.nn.Int8Params(
            cb, requires_grad=False, has_fp16_weights=False, CB=cb, SCB=torch.cat(scbs)
        )
    return None


def trim_heap() -> None:
    """Give the freed source tensor back to the system. glibc keeps freed blocks in its
    heap, and the small quantized results land in the holes the big fp32 sources leave, so
    without this the heap grows by about one source per tensor (a 100M model in 8-bit peaked
    at the whole fp32 file)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _non_persistent(model: Any) -> set[str]:
    names = set()
    for prefix, module in model.named_modules():
        for buf in getattr(module, "_non_persistent_buffers_set", ()):
            names.add(f"{prefix}.{buf}" if prefix else buf)
    return names
