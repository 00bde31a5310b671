"""The tiny models: small, quick, reproducible, cached, complete enough for the real loaders."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from fixtures_hub import TinyModels

from nbmodels.demo.hub import TINY_MODELS, build_tiny_models
from nbmodels.demo.hub.tinymodels import STAMP_NAME

MAX_BYTES = 2 * 1024 * 1024


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_fresh_build_is_small_and_byte_for_byte_reproducible(tmp_path, tiny_models: TinyModels):
    start = time.perf_counter()
    folders = build_tiny_models(tmp_path)
    elapsed = time.perf_counter() - start
    sizes = {repo_id: sum(len(b) for b in _files(f).values()) for repo_id, f in folders.items()}
    print(f"built {len(folders)} tiny models in {elapsed:.1f}s; sizes in bytes: {sizes}")
    assert list(folders) == list(TINY_MODELS)
    for repo_id, folder in folders.items():
        assert folder == tmp_path / repo_id
        assert 10_000 < sizes[repo_id] < MAX_BYTES
        # the session's models were built by another run (or process): same seeds, same bytes
        assert _files(folder) == _files(tiny_models[repo_id]), repo_id
    leftovers = [p.name for p in (tmp_path / "nbmodels-demo").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_cached_build_is_reused_and_outdated_one_rebuilt(tmp_path, tiny_models: TinyModels):
    import shutil

    for repo_id, folder in tiny_models.items():
        shutil.copytree(folder, tmp_path / repo_id)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert build_tiny_models(tmp_path) == {r: tmp_path / r for r in TINY_MODELS}
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before

    chat = tmp_path / TINY_MODELS[0]
    (chat / STAMP_NAME).write_text(json.dumps({"version": 0}))
    (chat / "config.json").unlink()
    build_tiny_models(tmp_path)
    assert (chat / "config.json").is_file()
    assert json.loads((chat / STAMP_NAME).read_text())["version"] > 0
    untouched = {p: m for p, m in before.items() if not p.is_relative_to(chat)}
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched


def _card(folder: Path) -> dict:
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_model_cards_and_layouts(tiny_models: TinyModels):
    chat, embedder, classifier = (tiny_models[r] for r in TINY_MODELS)
    expected = {
        chat: ("text-generation", "transformers"),
        embedder: ("feature-extraction", "sentence-transformers"),
        classifier: ("text-classification", "transformers"),
    }
    for folder, (task, library) in expected.items():
        card = _card(folder)
        assert (card["pipeline_tag"], card["library_name"]) == (task, library)
        assert card["license"] and card["language"] == ["en"] and "random-weights" in card["tags"]
        assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert {"chat_template.jinja", "generation_config.json"} <= {p.name for p in chat.iterdir()}
    modules = json.loads((embedder / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    pooling = json.loads((embedder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and pooling["word_embedding_dimension"] == 32
    assert (embedder / "config_sentence_transformers.json").is_file()
    assert (embedder / "sentence_bert_config.json").is_file()
    config = json.loads((classifier / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}


def test_tokenizers_load_from_the_folders(tiny_models: TinyModels):
    from transformers import AutoTokenizer

    chat = AutoTokenizer.from_pretrained(tiny_models[TINY_MODELS[0]])
    assert (chat.bos_token, chat.eos_token, chat.pad_token) == ("<s>", "</s>", "<pad>")
    text = "The quick brown fox"
    assert chat.decode(chat(text, add_special_tokens=False)["input_ids"]) == text
    rendered = chat.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert rendered == "<s><|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n"
    bert = AutoTokenizer.from_pretrained(tiny_models[TINY_MODELS[1]])
    assert bert.tokenize("Hello, the weather is sunny!") == [
        "hello",
        ",",
        "the",
        "weather",
        "is",
        "sunny",
        "!",
    ]
    assert (
        bert.unk_token_id not in bert("zebra xylophone")["input_ids"]
    )  # characters cover any word


def test_importing_the_hub_package_stays_light():
    code = "import sys, nbmodels.demo.hub; print(sorted({'torch', 'transformers', 'tokenizers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
