"""Tiny, randomly initialised models for tests and demos, built locally in seconds.

Each model is a real ``transformers`` model (a few hundred KB of ``model.safetensors``) with a
real tokenizer trained by the ``tokenizers`` library on a small built-in text, a model card
with YAML front matter, and the files the Hub clients look for. The weights are random, so
the models say nothing sensible, but every loading and generation path runs for real.

    >>> folders = build_tiny_models(Path("/tmp/demo-models"))
    >>> folders["nbmodels-demo/tiny-llama-chat"]
    PosixPath('/tmp/demo-models/nbmodels-demo/tiny-llama-chat')

Builds are deterministic (fixed seeds) and cached: a folder whose stamp file carries the
current :data:`TINY_MODELS_VERSION` is kept as it is. Each model is written into a temporary
folder beside its destination and renamed into place, so an interrupted build never leaves a
half-written model behind. torch, transformers and tokenizers are imported inside functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "SMALL_CHAT",
    "STAMP_NAME",
    "TINY_MODELS",
    "TINY_MODELS_VERSION",
    "build_small_chat",
    "build_tiny_models",
]

#: Bump when the files a build writes change, so cached builds are rebuilt.
TINY_MODELS_VERSION = 2
#: The stamp file inside each built folder; the hub server never serves ``.nbmodels*`` files.
STAMP_NAME = ".nbmodels-tiny.json"

CHAT = "nbmodels-demo/tiny-llama-chat"
EMBEDDER = "nbmodels-demo/tiny-embedder"
CLASSIFIER = "nbmodels-demo/tiny-classifier"
#: The repo ids :func:`build_tiny_models` builds.
TINY_MODELS: tuple[str, ...] = (CHAT, EMBEDDER, CLASSIFIER)
#: A wider chat model (:func:`build_small_chat`), not served by the demo hub.
SMALL_CHAT = "nbmodels-demo/small-llama-chat"

# A small original text, enough for the tokenizers to learn a few hundred pieces.
_CORPUS = """\
A notebook is a good place to try a model. You search for a model, read its card,
download its files and run it, one cell at a time. The model answers a question,
writes a short poem, or turns a sentence into a vector of numbers.
Small models load in a second and fit in memory; large models need a GPU and patience.
The hub keeps every file of a model with its history: configuration, tokenizer, weights.
A tokenizer cuts text into pieces; the model reads the pieces and predicts the next one.
Hello! How are you today? I am fine, thank you. What is the weather like?
It is sunny and warm, with a light wind from the sea. Let us go for a walk.
The quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat.
Positive reviews say the film was wonderful, moving and funny; negative ones say it was
boring, too long and badly acted. A classifier learns to tell them apart.
An embedding model maps similar sentences to nearby points, so search can find them.
User asks, assistant answers, system sets the rules of the conversation.
Numbers: one two three four five six seven eight nine ten eleven twelve.
Colours: red orange yellow green blue indigo violet black white grey.
"""

_GITATTRIBUTES = """\
*.bin filter=lfs diff=lfs merge=lfs -text
*.gguf filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
"""

# Zephyr-style template: the role markers are special tokens of the tokenizer.
_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def build_tiny_models(dest: Path) -> dict[str, Path]:
    """Build (or reuse) every tiny model under ``dest/<org>/<name>/``; return ``{repo_id: folder}``."""
    dest = Path(dest)
    return {repo_id: _build_cached(dest, repo_id, _BUILDERS[repo_id]) for repo_id in TINY_MODELS}


def build_small_chat(dest: Path, *, chat: Path | None = None) -> Path:
    """Build (or reuse) ``dest/nbmodels-demo/small-llama-chat``: a random-weight Llama of 12M
    parameters (hidden 384, 8 layers, grouped-query heads) with the tiny chat model's
    tokenizer and chat template. bitsandbytes' CPU kernels need rows of at least one 64-wide
    block, which the 32-wide tiny models lack: this one loads in 8-bit and nf4, so the
    benchmark tutorial and the tests compare fp32 / 8-bit / nf4 of one model. ``chat``: the
    built tiny chat model's folder (built under ``dest`` when not given)."""
    dest = Path(dest)
    source = chat if chat is not None else build_tiny_models(dest)[CHAT]

    def build(folder: Path) -> None:
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tokenizer = AutoTokenizer.from_pretrained(source)
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=384, intermediate_size=1024,
                             num_hidden_layers=8, num_attention_heads=6, num_key_value_heads=2,
                             max_position_embeddings=2048, tie_word_embeddings=False,
                             bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)  # fmt: skip
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(folder)
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):  # fmt: skip
            if (source / name).exists():
                shutil.copy(source / name, folder / name)

    return _build_cached(dest, SMALL_CHAT, build)


def _is_current(folder: Path) -> bool:
    try:
        stamp = json.loads((folder / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and stamp.get("version") == TINY_MODELS_VERSION


def _build_cached(dest: Path, repo_id: str, builder: Callable[[Path], None]) -> Path:
    folder = dest / repo_id
    if _is_current(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        with _quiet():
            builder(tmp)
        for path in [tmp, *tmp.rglob("*")]:  # mkdtemp and safetensors create private modes
            path.chmod(0o755 if path.is_dir() else 0o644)
        (tmp / ".gitattributes").write_text(_GITATTRIBUTES)
        stamp = {"version": TINY_MODELS_VERSION, "repo_id": repo_id}
        (tmp / STAMP_NAME).write_text(json.dumps(stamp) + "\n")
        if _is_current(folder):  # another process finished first: keep its build
            return folder
        if folder.exists():  # an outdated build: move it aside in one step, then delete it
            old = folder.parent / f".{folder.name}-outdated-{uuid.uuid4().hex}"
            with contextlib.suppress(OSError):
                os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process renamed its own build in first
            if not _is_current(folder):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No "Writing model shards" progress bars while building."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def _lines() -> Iterator[str]:
    yield from (line for line in _CORPUS.splitlines() if line.strip())


def _write_card(folder: Path, front_matter: dict[str, Any], title: str, body: str) -> None:
    import yaml

    header = yaml.safe_dump(front_matter, sort_keys=False, allow_unicode=True)
    (folder / "README.md").write_text(f"---\n{header}---\n\n# {title}\n\n{body.strip()}\n")


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


# ---------------------------------------------------------------------------- chat model


def _build_chat(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_lines(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=specials[4:],
        model_max_length=256,
    )
    tokenizer.chat_template = _CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    # transformers 5 writes its own class name, which transformers 4 cannot load; the
    # generic fast tokenizer class loads the same tokenizer.json in both
    _patch_json(folder / "tokenizer_config.json", tokenizer_class="PreTrainedTokenizerFast")

    _seed(0)
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.token_to_id("<s>"),
        eos_token_id=tok.token_to_id("</s>"),
        pad_token_id=tok.token_to_id("<pad>"),
        # an untied head: with tied embeddings a random model echoes its last token (the
        # chat template ends in a newline, so every answer was blank lines)
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.max_new_tokens = 16
    model.generation_config.do_sample = False
    model.save_pretrained(folder)
    _write_card(
        folder,
        {
            "license": "apache-2.0",
            "language": ["en"],
            "pipeline_tag": "text-generation",
            "library_name": "transformers",
            "tags": ["llama", "chat", "tiny", "random-weights", "nbmodels-demo"],
        },
        "tiny-llama-chat",
        """
A tiny Llama chat model with **random weights** (about 30k parameters), built locally by
`nbmodels.hub.build_tiny_models` for tests and demos. It loads with
`AutoModelForCausalLM.from_pretrained`, has a byte-level BPE tokenizer trained on a few
sentences and a Zephyr-style chat template, and generates nonsense quickly.
""",
    )


# ------------------------------------------------------------------------ BERT models


def _wordpiece_vocab() -> dict[str, int]:
    """Specials, every character (alone and as a ``##`` continuation), then the commonest words.

    Written by hand because the ``tokenizers`` WordPiece trainer breaks ties in a different
    order on each run, and these builds must be byte-for-byte reproducible.
    """
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    words = Counter(
        word
        for line in _lines()
        for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line))
    )
    chars = sorted({c for word in words for c in word})
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars)]
    ranked = sorted((w for w in words if len(w) > 1), key=lambda w: (-words[w], w))
    pieces += ranked[: max(0, 400 - len(pieces))]
    return {piece: i for i, piece in enumerate(pieces)}


def _bert_tokenizer(folder: Path) -> Any:
    from transformers import BertTokenizer

    vocab = _wordpiece_vocab()
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=128)
    tokenizer.save_pretrained(folder)
    # vocab.txt too: older loaders and sentence-transformers' WordPiece fallbacks read it
    ordered = sorted(vocab, key=vocab.__getitem__)
    (folder / "vocab.txt").write_text("\n".join(ordered) + "\n")
    return tokenizer


def _bert_config(vocab_size: int, **extra: Any) -> Any:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **extra,
    )


def _build_embedder(folder: Path) -> None:
    from transformers import BertModel

    tokenizer = _bert_tokenizer(folder)
    _seed(1)
    model = BertModel(_bert_config(len(tokenizer)))
    model.save_pretrained(folder)
    # the sentence-transformers layout: Transformer -> mean Pooling -> Normalize
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    _dump(folder / "modules.json", modules)
    _dump(
        folder / "config_sentence_transformers.json",
        {
            "__version__": {"sentence_transformers": "3.0.0", "transformers": "5.0.0"},
            "prompts": {},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    _dump(folder / "sentence_bert_config.json", {"max_seq_length": 128, "do_lower_case": False})
    _dump(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": 32,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (folder / "2_Normalize").mkdir()
    _write_card(
        folder,
        {
            "license": "apache-2.0",
            "language": ["en"],
            "pipeline_tag": "feature-extraction",
            "library_name": "sentence-transformers",
            "tags": [
                "sentence-transformers",
                "feature-extraction",
                "sentence-similarity",
                "bert",
                "tiny",
                "random-weights",
                "nbmodels-demo",
            ],
        },
        "tiny-embedder",
        """
A tiny BERT sentence embedder with **random weights** (32 dimensions, mean pooling,
normalised), built locally by `nbmodels.hub.build_tiny_models` for tests and demos. It has
the sentence-transformers layout (`modules.json`, `1_Pooling/`) and loads with
`AutoModel.from_pretrained`.
""",
    )


def _build_classifier(folder: Path) -> None:
    from transformers import BertForSequenceClassification

    tokenizer = _bert_tokenizer(folder)
    _seed(2)
    config = _bert_config(
        len(tokenizer),
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
        problem_type="single_label_classification",
    )
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    _write_card(
        folder,
        {
            "license": "mit",
            "language": ["en"],
            "pipeline_tag": "text-classification",
            "library_name": "transformers",
            "tags": ["bert", "sentiment", "tiny", "random-weights", "nbmodels-demo"],
        },
        "tiny-classifier",
        """
A tiny BERT sentiment classifier with **random weights** (labels `negative`, `positive`),
built locally by `nbmodels.hub.build_tiny_models` for tests and demos. It loads with
`AutoModelForSequenceClassification.from_pretrained`; its predictions are coin flips.
""",
    )


def _patch_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    _dump(path, data)


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


_BUILDERS: dict[str, Callable[[Path], None]] = {
    CHAT: _build_chat,
    EMBEDDER: _build_embedder,
    CLASSIFIER: _build_classifier,
}
