"""Write a transformers Llama folder as a real GGUF file (F32, F16 or Q8_0), with its BPE
tokenizer and chat template, so the tests and the demo have GGUF models that load and
generate (``from_pretrained(..., gguf_file=)``, or an Ollama store's blob).

Written by hand with the ``gguf`` package's writer because the converter that does this
(llama.cpp's ``convert_hf_to_gguf.py``) is not on PyPI. The tensor names and the q/k row
permutation follow llama.cpp's converter; transformers' GGUF loader undoes the permutation.
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
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize
    from safetensors.numpy import load_file

    if qtype not in _TYPES:
        raise ValueError(f"qtype must be one of {_TYPES}, got {qtype!r}")
    folder, dest = Path(folder), Path(dest)
    cfg = json.loads((folder / "config.json").read_text())
    tok = json.loads((folder / "tokenizer.json").read_text())
    weights = load_file(folder / "model.safetensors")
    n_head, n_kv = (
        cfg["num_attention_heads"],
        cfg.get("num_key_value_heads", cfg["num_attention_heads"]),
    )

    w = GGUFWriter(dest, "llama")
    w.add_name(name or folder.name)
    w.add_uint64("general.parameter_count", int(sum(v.size for v in weights.values())))
    if pooling:
        from gguf import PoolingType

        w.add_pooling_type(PoolingType.MEAN)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(cfg["hidden_size"] // n_head)
    w.add_rope_freq_base(
        float(
            cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0)
        )
    )
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_file_type({"F32": 0, "F16": 1, "Q8_0": 7}[qtype])
    # the tokenizer: a byte-level BPE, which GGUF calls "gpt2"
    vocab = tok["model"]["vocab"]
    added = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    size = max([*vocab.values(), *added.values()]) + 1
    tokens = [""] * size
    types = [1] * size  # normal
    for text, i in vocab.items():
        tokens[i] = text
    for text, i in added.items():
        tokens[i], types[i] = text, 3  # control
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"].get("merges", [])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for name, key in (("bos_token_id", "add_bos_token_id"), ("eos_token_id", "add_eos_token_id")):
        if cfg.get(name) is not None:
            getattr(w, key)(int(cfg[name]))
    post = tok.get("post_processor") or {}
    single = post.get("single") or [] if post.get("type") == "TemplateProcessing" else []
    w.add_add_bos_token(bool(single) and "SpecialToken" in single[0])  # the tokenizer adds BOS
    template = folder / "chat_template.jinja"
    if template.exists():
        w.add_chat_template(template.read_text())

    def put(name: str, array: Any, *, quantizable: bool = True) -> None:
        data = np.ascontiguousarray(array.astype(np.float32))
        if qtype == "F16" and quantizable and data.ndim == 2:
            w.add_tensor(name, data.astype(np.float16))
        elif qtype == "Q8_0" and quantizable and data.ndim == 2 and data.shape[-1] % 32 == 0:
            w.add_tensor(
                name, quantize(data, GGMLQuantizationType.Q8_0), raw_dtype=GGMLQuantizationType.Q8_0
            )
        else:
            w.add_tensor(name, data)

    put("token_embd.weight", weights["model.embed_tokens.weight"])
    put("output_norm.weight", weights["model.norm.weight"], quantizable=False)
    head = weights.get("lm_head.weight", weights["model.embed_tokens.weight"])
    put("output.weight", head)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        put(f"blk.{i}.attn_norm.weight", weights[p + "input_layernorm.weight"], quantizable=False)
        put(
            f"blk.{i}.ffn_norm.weight",
            weights[p + "post_attention_layernorm.weight"],
            quantizable=False,
        )
        put(f"blk.{i}.attn_q.weight", _permute(weights[p + "self_attn.q_proj.weight"], n_head))
        put(f"blk.{i}.attn_k.weight", _permute(weights[p + "self_attn.k_proj.weight"], n_kv))
        put(f"blk.{i}.attn_v.weight", weights[p + "self_attn.v_proj.weight"])
        put(f"blk.{i}.attn_output.weight", weights[p + "self_attn.o_proj.weight"])
        put(f"blk.{i}.ffn_gate.weight", weights[p + "mlp.gate_proj.weight"])
        put(f"blk.{i}.ffn_up.weight", weights[p + "mlp.up_proj.weight"])
        put(f"blk.{i}.ffn_down.weight", weights[p + "mlp.down_proj.weight"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dest
