"""Write a transformers Llama folder as a real GGUF file (F32, F16 or Q8_0), with its BPE
tokenizer and chat template, so the tests and the demo have GGUF models that load and
generate (``from_pretrained(..., gguf_file=)``, or an Ollama store's blob).

llama.cpp's converter (``convert_hf_to_gguf.py``) is not on PyPI, but its library is: the
``gguf`` package writes the file (``GGUFWriter``), quantizes (``gguf.quants``) and names the
tensors the way llama.cpp does (``TensorNameMap``), so no GGUF encoding is maintained here.
What is left is the converter's Llama recipe: the q/k row permutation (transformers' GGUF
loader undoes it) and the tokenizer's keys. (gguf's ``SpecialVocab`` would read those too,
but it logs a warning for the demo tokenizer's pair template at every write.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["write_llama_gguf"]

_TYPES = ("F32", "F16", "Q8_0")


def _permute(w: Any, n_head: int) -> Any:
    """llama.cpp's q/k layout: rotary halves interleaved per head."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def write_llama_gguf(
    folder: Path | str, dest: Path | str, *, qtype: str = "F32", name: str | None = None,
    pooling: bool = False,
) -> Path:  # fmt: skip
    """``folder`` (config.json, model.safetensors, tokenizer.json) as a GGUF at ``dest``.

    ``name`` goes in ``general.name`` (the folder's name by default); ``pooling=True`` marks
    it an embedding model (``llama.pooling_type`` mean), as Ollama reads it."""
    import gguf
    import numpy as np
    from gguf.quants import quantize
    from safetensors.numpy import load_file

    if qtype not in _TYPES:
        raise ValueError(f"qtype must be one of {_TYPES}, got {qtype!r}")
    folder, dest = Path(folder), Path(dest)
    cfg = json.loads((folder / "config.json").read_text())
    tok = json.loads((folder / "tokenizer.json").read_text())
    weights = load_file(folder / "model.safetensors")
    count = int(sum(v.size for v in weights.values()))
    weights.setdefault("lm_head.weight", weights["model.embed_tokens.weight"])  # tied
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    rope = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 1e4)

    w = gguf.GGUFWriter(dest, "llama")
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
    w.add_rope_dimension_count(cfg["hidden_size"] // n_head)
    w.add_rope_freq_base(float(rope))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    ftype = {"F32": "ALL_F32", "F16": "MOSTLY_F16", "Q8_0": "MOSTLY_Q8_0"}[qtype]
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
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    merges = tok["model"].get("merges", [])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    for key in ("bos", "eos"):
        if cfg.get(f"{key}_token_id") is not None:
            getattr(w, f"add_{key}_token_id")(int(cfg[f"{key}_token_id"]))
    post = tok.get("post_processor") or {}
    single = post.get("single") or [] if post.get("type") == "TemplateProcessing" else []
    w.add_add_bos_token(bool(single) and "SpecialToken" in single[0])  # the tokenizer adds BOS
    if (template := folder / "chat_template.jinja").is_file():
        w.add_chat_template(template.read_text())

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
            raise ValueError(f"{folder}: no llama.cpp name for the tensor {key!r}")
        w.add_tensor(gname, quantize(data, kind), raw_dtype=kind)
    dest.parent.mkdir(parents=True, exist_ok=True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dest
