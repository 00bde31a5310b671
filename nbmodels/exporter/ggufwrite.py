"""A transformers Llama folder written as a GGUF file (F32, F16, BF16 or Q8_0), with its
byte-level BPE tokenizer and chat template, for llama.cpp and Ollama.

llama.cpp's converter (``convert_hf_to_gguf.py``) is not on PyPI, but its library is: the
``gguf`` package writes the file (``GGUFWriter``), quantizes (``gguf.quants``) and names the
tensors the way llama.cpp does (``TensorNameMap``), so no GGUF encoding is kept here. What
is left is the converter's Llama recipe: the q/k row permutation (llama.cpp's rotary
layout, which transformers' GGUF loader undoes) and the tokenizer's keys. Other
architectures and SentencePiece tokenizers are refused before anything is written
(:func:`check_convertible`), with llama.cpp's converter command to use instead.

(The demo's ``nbmodels.demo.gguf_export`` re-exports this writer for its tiny GGUF models.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..files import atomic_path

__all__ = ["GGUF_TYPES", "check_convertible", "write_llama_gguf"]

GGUF_TYPES = ("F32", "F16", "BF16", "Q8_0")
# a pre-tokenizer's split regex -> llama.cpp's name for it (tokenizer.ggml.pre); the plain
# byte-level one is GPT-2's
_LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"  # fmt: skip
_QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"  # fmt: skip


def _permute(w: Any, n_head: int) -> Any:
    """llama.cpp's q/k layout: rotary halves interleaved per head."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)  # fmt: skip


def _pre_tokenizer(tok: dict[str, Any]) -> str | None:
    """llama.cpp's name of a byte-level BPE's pre-tokenizer, or None for one it may split
    differently."""
    pre = tok.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    splits = [s.get("pattern", {}).get("Regex") for s in steps if s.get("type") == "Split"]
    if not splits and any(s.get("type") == "ByteLevel" and s.get("use_regex", True) for s in steps):
        return "gpt-2"
    return {_LLAMA3_SPLIT: "llama-bpe", _QWEN2_SPLIT: "qwen2"}.get(splits[0]) if len(splits) == 1 else None  # fmt: skip


def check_convertible(folder: Path) -> dict[str, Any]:
    """What :func:`write_llama_gguf` needs of ``folder``, checked before anything is written:
    a Llama (``config.json``), its weights in ``model.safetensors`` and a byte-level BPE
    ``tokenizer.json``. Returns the config; ConfigurationError with what to do otherwise."""
    convert = (f"use llama.cpp's converter: `python convert_hf_to_gguf.py {folder} --outtype f16` "
               "(https://github.com/ggml-org/llama.cpp), then export that GGUF")  # fmt: skip
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{folder} has no readable config.json ({exc}); download the model first.") from None  # fmt: skip
    if cfg.get("model_type") != "llama":
        raise ConfigurationError(f"nbmodels writes GGUF for Llama models only, not {cfg.get('model_type')!r}: {convert}.")  # fmt: skip
    if not (folder / "model.safetensors").is_file():
        raise ConfigurationError(f"{folder} has no single model.safetensors (sharded or pickled weights): {convert}.")  # fmt: skip
    try:
        tok = json.loads((folder / "tokenizer.json").read_text())
    except (OSError, ValueError):
        raise ConfigurationError(f"{folder} has no tokenizer.json (a SentencePiece tokenizer?): {convert}.") from None  # fmt: skip
    if (tok.get("model") or {}).get("type") != "BPE" or not isinstance(
        tok["model"].get("vocab"), dict
    ):
        raise ConfigurationError(f"{folder}'s tokenizer is not a byte-level BPE: {convert}.")
    return dict(cfg)


def write_llama_gguf(
    folder: Path | str, dest: Path | str, *, qtype: str = "F32", name: str | None = None,
    pooling: bool = False, chat_template: str | None = None,
) -> Path:  # fmt: skip
    """``folder`` (config.json, model.safetensors, tokenizer.json) as a GGUF at ``dest``,
    written to a temporary file and renamed (never half a file).

    ``name`` goes in ``general.name`` (the folder's name by default); ``pooling=True`` marks
    it an embedding model (``llama.pooling_type`` mean); ``chat_template``: the Jinja template
    (default: the folder's ``chat_template.jinja`` or tokenizer_config.json's)."""
    import gguf
    import numpy as np
    from gguf.quants import quantize
    from safetensors.numpy import load_file

    if qtype not in GGUF_TYPES:
        raise ConfigurationError(f"GGUF type must be one of {', '.join(GGUF_TYPES)}, not {qtype!r}.")  # fmt: skip
    folder, dest = Path(folder), Path(dest)
    cfg = check_convertible(folder)
    tok = json.loads((folder / "tokenizer.json").read_text())
    weights = load_file(folder / "model.safetensors")
    count = int(sum(v.size for v in weights.values()))
    weights.setdefault("lm_head.weight", weights["model.embed_tokens.weight"])  # tied
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    rope = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 1e4)
    if chat_template is None:
        from .common import chat_from_folder

        found = chat_from_folder(folder)
        chat_template = found.template if found is not None else None

    with atomic_path(dest) as tmp:
        w = gguf.GGUFWriter(tmp, "llama")
        w.add_name(name or folder.name)
        w.add_uint64("general.parameter_count", count)
        if pooling:
            w.add_pooling_type(gguf.PoolingType.MEAN)
        w.add_context_length(cfg["max_position_embeddings"])
        w.add_embedding_length(cfg["hidden_size"])
        w.add_block_count(cfg["num_hidden_layers"])
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_head_count(n_head)
        w.add_head_count_kv(n_kv)
        w.add_rope_dimension_count(cfg.get("head_dim") or cfg["hidden_size"] // n_head)
        w.add_rope_freq_base(float(rope))
        w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
        ftype = {
            "F32": "ALL_F32",
            "F16": "MOSTLY_F16",
            "BF16": "MOSTLY_BF16",
            "Q8_0": "MOSTLY_Q8_0",
        }[qtype]
        w.add_file_type(gguf.LlamaFileType[ftype])
        # a byte-level BPE ("gpt2"): the vocabulary by id, added tokens as control tokens
        added = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
        size = max([*tok["model"]["vocab"].values(), *added.values()]) + 1
        tokens, types = [""] * size, [gguf.TokenType.NORMAL] * size
        for text, i in tok["model"]["vocab"].items():
            tokens[i] = text
        for text, i in added.items():
            tokens[i], types[i] = text, gguf.TokenType.CONTROL
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(_pre_tokenizer(tok) or "default")
        w.add_token_list(tokens)
        w.add_token_types(types)
        merges = tok["model"].get("merges", [])
        w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
        for key in ("bos", "eos"):
            if cfg.get(f"{key}_token_id") is not None:
                getattr(w, f"add_{key}_token_id")(int(cfg[f"{key}_token_id"]))
        post = tok.get("post_processor") or {}
        steps = post.get("processors", [post]) if post.get("type") == "Sequence" else [post]
        single = next((s.get("single") for s in steps if s.get("type") == "TemplateProcessing"), None) or []  # fmt: skip
        w.add_add_bos_token(bool(single) and "SpecialToken" in single[0])  # the tokenizer adds BOS
        if chat_template:
            w.add_chat_template(chat_template)

        names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg["num_hidden_layers"])
        want = gguf.GGMLQuantizationType[qtype]
        for key, array in weights.items():
            data = np.ascontiguousarray(array, dtype=np.float32)
            if key.endswith(("q_proj.weight", "k_proj.weight")):
                data = _permute(data, n_head if key.endswith("q_proj.weight") else n_kv)
            kind = want if data.ndim == 2 else gguf.GGMLQuantizationType.F32  # norms stay F32
            if want == gguf.GGMLQuantizationType.Q8_0 and data.shape[-1] % 32:  # 32-wide blocks
                kind = gguf.GGMLQuantizationType.F32
            if (gname := names.get_name(key, try_suffixes=(".weight",))) is None:
                raise ConfigurationError(f"{folder}: no llama.cpp name for the tensor {key!r}; use llama.cpp's convert_hf_to_gguf.py.")  # fmt: skip
            w.add_tensor(gname, quantize(data, kind), raw_dtype=kind)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    return dest
