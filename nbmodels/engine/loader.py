"""Loading safetensors weights one tensor at a time.

Why by hand: ``from_pretrained`` memory-maps every shard and keeps the mapping alive while
it converts dtypes and while bitsandbytes quantizes, so a load peaks at the file plus the
copies plus bitsandbytes' temporaries (a 100M Llama in nf4: ~1 GB for a 53 MiB model). This
loader reads each tensor with plain file reads (no mapping, so the page cache is not counted
against the process), converts or quantizes it with transformers' own quantizer operations,
puts it in the model and lets the fp32 copy go before reading the next one. A weight it
quantizes is read and quantized a slice at a time. The peak is the loaded model plus one
unquantized tensor or one slice.

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

from ..weights import _read_header

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


def iter_tensors(path: Path, lazy: Any = None) -> Iterator[tuple[str, Any]]:
    """Each tensor of a safetensors file in file order, read into its own buffer; where
    ``lazy(name)`` is true, a :class:`FileTensor` that reads it a slice at a time instead."""
    import torch

    def read(f: Any, info: dict[str, Any]) -> Any:
        begin, end = info["data_offsets"]
        dtype = getattr(torch, _DTYPES[info["dtype"]])
        return _read_flat(f, start + begin, end - begin, dtype).reshape(info["shape"])

    header, start = read_header(path)
    with open(path, "rb", buffering=0) as f:
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            if lazy is not None and lazy(name):
                yield name, FileTensor(f, start + info["data_offsets"][0], getattr(torch, _DTYPES[info["dtype"]]), info["shape"])  # fmt: skip
                continue
            # read in a function of its own: a buffer held in this generator's frame would
            # live until the next one is read, two sources at once at the load's peak
            yield name, read(f, info)


def _read_flat(f: Any, offset: int, nbytes: int, dtype: Any) -> Any:
    import torch

    # an anonymous mapping, not a bytearray: freed buffers go straight back to the system,
    # and they do not raise glibc's mmap threshold (which would put the model's own tensors
    # in the heap, where an unload cannot give them back)
    if nbytes <= 0:
        return torch.empty(0, dtype=dtype)
    buf = mmap.mmap(-1, nbytes)
    f.seek(offset)
    f.readinto(buf)
    return torch.frombuffer(buf, dtype=dtype)


class FileTensor:
    """A tensor still in its file: ``flat(first, count)`` reads ``count`` elements from flat
    index ``first``. The chunked quantizer reads a weight this way, so no whole fp32 source
    is ever resident beside the model (it was most of a small model's load peak)."""

    def __init__(self, f: Any, offset: int, dtype: Any, shape: list[int]) -> None:
        import torch

        self.f, self.offset, self.dtype = f, offset, dtype
        self.shape = torch.Size(shape)
        self.itemsize = torch.empty(0, dtype=dtype).element_size()

    def numel(self) -> int:
        return self.shape.numel()

    def flat(self, first: int, count: int) -> Any:
        count = max(0, min(count, self.numel() - first))
        return _read_flat(self.f, self.offset + first * self.itemsize, count * self.itemsize, self.dtype)  # fmt: skip

    def load(self) -> Any:
        return self.flat(0, self.numel()).reshape(self.shape)


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

    def quantized(name: str) -> bool:
        return quantizer is not None and bool(quantizer.param_needs_quantization(model, name))

    def chunked(name: str) -> bool:  # quantized a slice at a time, read from the file so
        return quantized(name) and _chunkable(own[name])

    for shard in shards:
        for name, tensor in iter_tensors(shard, lazy=chunked):
            old = own[name]
            target = old.dtype if old.is_floating_point() else None
            module, attr = get_module_from_name(model, name)
            if isinstance(tensor, FileTensor):
                value = _quantize_in_chunks(tensor, old, module, target)
            else:
                if target is not None and tensor.dtype != target:
                    tensor = _converted(tensor, target)
                if quantize is not None and quantized(name):  # a layout the chunks don't know
                    value = quantize.convert({name: tensor}, model=model, full_layer_name=name)
                    value = value[name]
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


_CHUNK = 1 << 17  # elements per quantization step: bitsandbytes' kernels make ~4 fp32 temporaries


def _chunkable(old: Any) -> bool:
    """Whether :func:`_quantize_in_chunks` knows the layout of this (still empty) weight."""
    import bitsandbytes as bnb

    if isinstance(old, bnb.nn.Params4bit):
        return True
    return (
        isinstance(old, bnb.nn.Int8Params)
        and not getattr(old, "has_fp16_weights", True)
        and old.dim() == 2
    )


def _quantize_in_chunks(weight: FileTensor, old: Any, module: Any, dtype: Any) -> Any:
    """A weight quantized the way bitsandbytes does it (``Params4bit._quantize``,
    ``Int8Params._quantize``), read from its file and quantized a slice at a time: its CPU
    kernels make several fp32 temporaries the size of their input, which for one large
    matrix is more than a small model's whole quantized footprint. The result is the same
    bytes: each slice is converted to the model's ``dtype`` first, as the whole tensor would
    be, 4-bit quantizes blocks of ``blocksize`` consecutive elements and 8-bit whole rows,
    and slices are cut on those boundaries (the loader's tests compare the state dict with
    ``from_pretrained``'s)."""
    import bitsandbytes as bnb
    import torch
    from bitsandbytes import functional as F

    def piece(first: int, count: int) -> Any:
        chunk = weight.flat(first, count)
        return chunk.to(dtype) if dtype is not None and chunk.dtype != dtype else chunk

    if isinstance(old, bnb.nn.Params4bit):
        size = old.blocksize or 64
        step = max(size, _CHUNK // size * size)
        packed, absmax = [], []
        for i in range(0, weight.numel(), step):
            out, state = F.quantize_4bit(piece(i, step), blocksize=size, compress_statistics=False,
                                         quant_type=old.quant_type, quant_storage=old.quant_storage)  # fmt: skip
            packed.append(out)
            absmax.append(state.absmax)
        state.absmax, state.shape = torch.cat(absmax), weight.shape
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
    n_rows, width = weight.shape
    rows = max(1, _CHUNK // max(1, width))
    cbs, scbs = [], []
    for i in range(0, n_rows, rows):
        part = piece(i * width, rows * width).reshape(-1, width)
        cb, scb, _ = F.int8_vectorwise_quant(part.to(torch.float16))
        cbs.append(cb)
        scbs.append(scb)
    cb = torch.cat(cbs)
    return bnb.nn.Int8Params(
        cb, requires_grad=False, has_fp16_weights=False, CB=cb, SCB=torch.cat(scbs)
    )


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
