"""The local hub against the real clients: huggingface_hub, transformers and httpx.

Expected counts come from DuckDB over the same parquet file, never from the server.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from fixtures_hub import GATED_REPO, MANY_FILES_REPO, REVISIONS_REPO, TinyModels
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from nbmodels.demo.hub import TINY_MODELS, HubServer, find_shared_records

CHAT = "nbmodels-demo/tiny-llama-chat"
EMBEDDER = "nbmodels-demo/tiny-embedder"
CLASSIFIER = "nbmodels-demo/tiny-classifier"
TEST_REPOS = (GATED_REPO, REVISIONS_REPO, MANY_FILES_REPO)


@pytest.fixture
def api(hub_server: HubServer) -> HfApi:
    return HfApi(endpoint=hub_server.url)


@pytest.fixture(scope="module")
def db(shared_data: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW m AS SELECT * FROM '{shared_data / 'hub-models.parquet'}'")
    return con


def _count(db: duckdb.DuckDBPyConnection, where: str, *params: object) -> int:
    return db.execute(f"SELECT count(*) FROM m WHERE {where}", list(params)).fetchone()[0]  # type: ignore[index]


def _model_pages(hub: HubServer) -> int:
    return sum(1 for r in hub.requests if r.path.startswith("/api/models?"))


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- list_models ---------------------------------------------------------------------------


def test_search_pages_past_one_page_and_matches_duckdb(api, hub_server, db):
    expected = _count(db, "lower(id) LIKE '%llama%'") + 1  # + nbmodels-demo/tiny-llama-chat
    assert expected > 2 * hub_server.page_size, "the search must need several pages"
    hub_server.clear_requests()
    ids = [m.id for m in api.list_models(search="LLaMA")]
    assert len(ids) == expected == len(set(ids))
    assert CHAT in ids
    assert _model_pages(hub_server) == -(-expected // hub_server.page_size)


def test_author_filter_and_full_listing(api, db):
    ids = {m.id for m in api.list_models(author="Qwen")}
    assert len(ids) == _count(db, "lower(author) = 'qwen'") > 0
    assert {m.id for m in api.list_models(author="nbmodels-demo")} == set(TINY_MODELS)


def test_filters_match_tags_pipeline_and_library(api, db):
    got = {m.id for m in api.list_models(filter=["text-generation", "license:apache-2.0", "en"])}
    want = db.execute(
        """SELECT id FROM m WHERE (list_contains(tags, 'text-generation')
               OR pipeline_tag = 'text-generation' OR library_name = 'text-generation')
           AND list_contains(tags, 'license:apache-2.0') AND list_contains(tags, 'en')"""
    ).fetchall()
    assert got == {row[0] for row in want} | {CHAT}
    gguf = {m.id for m in api.list_models(filter="gguf")}
    assert len(gguf) == _count(db, "list_contains(tags, 'gguf') OR library_name = 'gguf'") > 0
    classifiers = list(api.list_models(pipeline_tag="text-classification"))
    assert len(classifiers) == _count(db, "pipeline_tag = 'text-classification'") + 1
    assert all(m.pipeline_tag == "text-classification" for m in classifiers)


def test_sort_and_limit(api, db, hub_server):
    top = [(m.id, m.downloads) for m in api.list_models(sort="downloads", limit=5)]
    want = db.execute("SELECT id, downloads FROM m ORDER BY downloads DESC LIMIT 5").fetchall()
    assert top == [tuple(r) for r in want]
    liked = [m.likes for m in api.list_models(sort="likes", limit=150)]
    assert len(liked) == 150 and liked == sorted(liked, reverse=True)
    newest = [m.created_at for m in api.list_models(sort="created_at", limit=3)]
    assert newest == sorted(newest, reverse=True)
    # direction=1 sorts ascending (nulls last); HfApi cannot ask for it, httpx can
    rows = httpx.get(
        f"{hub_server.url}/api/models", params={"sort": "likes", "direction": "1", "limit": "3"}
    ).json()
    assert [r["likes"] for r in rows] == [0, 0, 0]


def test_num_parameters_range(api, db):
    got = {m.id for m in api.list_models(num_parameters="min:1B,max:8B", search="qwen")}
    want = db.execute(
        """SELECT id FROM m WHERE lower(id) LIKE '%qwen%' AND coalesce(safetensors.total,
               TRY_CAST(json_extract_string(gguf, '$.total') AS BIGINT)) BETWEEN 1e9 AND 8e9"""
    ).fetchall()
    assert got == {row[0] for row in want} and got


def test_listing_fields_follow_full_carddata_and_expand(api, hub_server):
    plain = next(iter(api.list_models(search="tiny-llama-chat")))
    assert plain.card_data is None and plain.sha is None and plain.tags
    carded = next(iter(api.list_models(search="tiny-llama-chat", cardData=True, fetch_config=True)))
    assert carded.card_data.license == "apache-2.0"
    assert carded.config["model_type"] == "llama"
    full = next(iter(api.list_models(search="tiny-llama-chat", full=True)))
    assert full.sha and full.last_modified and [s.rfilename for s in full.siblings]
    expanded = next(iter(api.list_models(search="Qwen1.5-MoE-A2.7B", expand=["safetensors"])))
    assert expanded.safetensors.total == 14315784192 and expanded.downloads is None
    bad = httpx.get(f"{hub_server.url}/api/models", params={"sort": "nonsense"})
    assert bad.status_code == 400 and "sort" in bad.json()["error"]


# -- model_info, tree, refs ----------------------------------------------------------------


def test_model_info_of_a_served_repo(api, tiny_models: TinyModels):
    from safetensors import safe_open

    info = api.model_info(CHAT, files_metadata=True)
    assert info.id == CHAT and info.author == "nbmodels-demo" and len(info.sha) == 40
    assert info.pipeline_tag == "text-generation" and info.library_name == "transformers"
    assert info.card_data.license == "apache-2.0" and info.card_data.language == ["en"]
    assert info.config["architectures"] == ["LlamaForCausalLM"]
    assert {"conversational", "license:apache-2.0", "llama"} <= set(info.tags)
    folder = tiny_models[CHAT]
    with safe_open(folder / "model.safetensors", "pt") as fh:
        total = sum(_numel(fh, k) for k in fh.keys())  # noqa: SIM118
    assert info.safetensors.total == total == info.safetensors.parameters["F32"]
    files = {s.rfilename: s for s in info.siblings}
    assert set(files) >= {"config.json", "model.safetensors", "tokenizer.json", ".gitattributes"}
    assert not any(name.startswith(".nbmodels") for name in files)
    weights = (folder / "model.safetensors").read_bytes()
    assert files["model.safetensors"].lfs.sha256 == hashlib.sha256(weights).hexdigest()
    assert files["model.safetensors"].size == len(weights)
    config = (folder / "config.json").read_bytes()
    assert (
        files["config.json"].blob_id == _git_blob_sha1(config) and files["config.json"].lfs is None
    )
    assert api.model_info(CHAT, revision=info.sha).sha == info.sha


def _numel(fh, key: str) -> int:
    n = 1
    for dim in fh.get_slice(key).get_shape():
        n *= dim
    return n


def test_model_info_of_a_real_record(api, db):
    info = api.model_info("Qwen/Qwen1.5-MoE-A2.7B")
    assert info.downloads == 184038 and info.likes == 225
    assert info.card_data.license == "other" and info.safetensors.total == 14315784192
    assert "license:other" in info.tags and info.siblings == []
    assert api.model_info("Qwen/Qwen1.5-MoE-A2.7B", revision=info.sha).sha == info.sha
    (messy,) = db.execute(
        "SELECT id FROM m WHERE pipeline_tag IS NULL AND safetensors IS NULL ORDER BY id LIMIT 1"
    ).fetchone()
    nulls = api.model_info(messy)
    assert nulls.id == messy and nulls.pipeline_tag is None and nulls.safetensors is None


def test_list_repo_tree(api, hub_server):
    entries = list(api.list_repo_tree(EMBEDDER, recursive=True))
    paths = {e.path for e in entries}
    assert {"1_Pooling", "1_Pooling/config.json", "modules.json", "model.safetensors"} <= paths
    weights = next(e for e in entries if e.path == "model.safetensors")
    assert weights.lfs is not None and len(weights.lfs.sha256) == 64
    top = {e.path for e in api.list_repo_tree(EMBEDDER)}
    assert "1_Pooling" in top and "1_Pooling/config.json" not in top
    assert {e.path for e in api.list_repo_tree(EMBEDDER, path_in_repo="1_Pooling")} == {
        "1_Pooling/config.json"
    }
    hub_server.clear_requests()
    shards = [e.path for e in api.list_repo_tree(MANY_FILES_REPO, path_in_repo="shards")]
    assert len(shards) == 150 and shards == sorted(shards)
    assert sum("/tree/" in r.path for r in hub_server.requests) == 2  # followed one Link


def test_paths_info(api):
    found = api.get_paths_info(EMBEDDER, ["1_Pooling", "model.safetensors", "missing.txt"])
    assert [(type(e).__name__, e.path) for e in found] == [
        ("RepoFolder", "1_Pooling"),
        ("RepoFile", "model.safetensors"),
    ]
    assert found[1].lfs is not None and found[1].size == found[1].lfs.size
    with pytest.raises(RevisionNotFoundError):
        api.get_paths_info(EMBEDDER, ["modules.json"], revision="nope")


def test_refs_and_revisions(api, hub_endpoint):
    refs = api.list_repo_refs(REVISIONS_REPO)
    branches = {b.name: b.target_commit for b in refs.branches}
    assert set(branches) == {"main", "dev"} and len(set(branches.values())) == 2
    assert [t.name for t in refs.tags] == ["v1.0"]
    assert {e.path for e in api.list_repo_tree(REVISIONS_REPO)} == {"README.md", "weights.txt"}
    assert api.model_info(REVISIONS_REPO, revision="dev").sha == branches["dev"]

    def weights(revision: str) -> str:
        return Path(hf_hub_download(REVISIONS_REPO, "weights.txt", revision=revision)).read_text()

    assert weights("main") == "main weights\n"
    assert weights("dev") == "dev weights\n"
    assert weights("v1.0") == "v1.0 weights\n"
    assert weights(branches["dev"]) == "dev weights\n"


# -- downloads ------------------------------------------------------------------------------


def test_hf_hub_download_names_blobs_by_sha1_and_sha256(hub_server, tiny_models, tmp_path):
    cache = tmp_path / "cache"
    config = hf_hub_download(CHAT, "config.json", endpoint=hub_server.url, cache_dir=cache)
    weights = hf_hub_download(CHAT, "model.safetensors", endpoint=hub_server.url, cache_dir=cache)
    config_bytes = (tiny_models[CHAT] / "config.json").read_bytes()
    weights_bytes = (tiny_models[CHAT] / "model.safetensors").read_bytes()
    assert Path(config).read_bytes() == config_bytes
    assert Path(config).resolve().name == _git_blob_sha1(config_bytes)
    assert Path(weights).resolve().name == hashlib.sha256(weights_bytes).hexdigest()
    nested = hf_hub_download(
        EMBEDDER, "1_Pooling/config.json", endpoint=hub_server.url, cache_dir=cache
    )
    assert (
        Path(nested).read_bytes()
        == (tiny_models[EMBEDDER] / "1_Pooling" / "config.json").read_bytes()
    )


def test_snapshot_download_twice_fetches_files_once(hub_server, tiny_models, tmp_path):
    hub_server.clear_requests()
    folder = Path(snapshot_download(EMBEDDER, endpoint=hub_server.url, cache_dir=tmp_path))
    first = hub_server.requests
    assert (folder / "1_Pooling" / "config.json").is_file() and (
        folder / "model.safetensors"
    ).is_file()
    assert sum("/resolve/" in r.path and r.method == "GET" for r in first) == len(
        [
            p
            for p in tiny_models[EMBEDDER].rglob("*")
            if p.is_file() and not p.name.startswith(".nbmodels")
        ]
    )
    hub_server.clear_requests()
    again = Path(snapshot_download(EMBEDDER, endpoint=hub_server.url, cache_dir=tmp_path))
    assert again == folder
    assert [(r.method, r.path) for r in hub_server.requests] == [
        ("GET", f"/api/models/{EMBEDDER}/revision/main")
    ]


# -- transformers ---------------------------------------------------------------------------


def test_transformers_loads_and_generates_from_the_hub(hub_endpoint, hub_server):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(CHAT)
    model = AutoModelForCausalLM.from_pretrained(CHAT)
    messages = [{"role": "user", "content": "Hello, how are you?"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt == "<s><|user|>\nHello, how are you?</s>\n<|assistant|>\n"
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(
        **inputs, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id
    )
    assert out.shape == (1, inputs["input_ids"].shape[1] + 5)
    assert isinstance(tokenizer.decode(out[0]), str)
    paths = {r.path for r in hub_server.requests}
    assert (
        f"/api/models/{CHAT}/tree/main/additional_chat_templates?recursive=false&expand=false"
        in paths
    )


def test_transformers_loads_embedder_and_classifier(hub_endpoint):
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(EMBEDDER)
    embedder = AutoModel.from_pretrained(EMBEDDER)
    with torch.no_grad():
        hidden = embedder(**tok(["the weather is sunny"], return_tensors="pt")).last_hidden_state
    assert hidden.shape[-1] == 32
    classifier = AutoModelForSequenceClassification.from_pretrained(CLASSIFIER)
    assert classifier.config.id2label == {0: "negative", 1: "positive"}
    tok = AutoTokenizer.from_pretrained(CLASSIFIER)
    with torch.no_grad():
        logits = classifier(**tok("a wonderful film", return_tensors="pt")).logits
    assert logits.shape == (1, 2)


# -- errors ---------------------------------------------------------------------------------


def test_error_codes_map_to_client_errors(api, hub_server, tmp_path):
    url = hub_server.url
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/nothing")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("nobody/nothing", "config.json", endpoint=url, cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(CHAT, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            CHAT, "config.json", revision="no-such-branch", endpoint=url, cache_dir=tmp_path
        )
    with pytest.raises(RemoteEntryNotFoundError) as missing:
        hf_hub_download(CHAT, "no-such-file.bin", endpoint=url, cache_dir=tmp_path)
    assert isinstance(missing.value, EntryNotFoundError)
    with pytest.raises(GatedRepoError):
        hf_hub_download(GATED_REPO, "config.json", endpoint=url, cache_dir=tmp_path)
    opened = hf_hub_download(
        GATED_REPO, "config.json", endpoint=url, cache_dir=tmp_path, token="hf_x"
    )
    assert Path(opened).read_text() == '{"model_type": "llama"}'
    assert api.model_info(GATED_REPO).gated == "manual"
    assert [m.id for m in api.list_models(gated=True)] == [GATED_REPO]


def test_entry_not_found_carries_the_commit(hub_server):
    sha = httpx.get(f"{hub_server.url}/api/models/{CHAT}").json()["sha"]
    r = httpx.get(f"{hub_server.url}/api/models/{CHAT}/tree/main/additional_chat_templates")
    assert (r.status_code, r.headers["X-Error-Code"], r.headers["X-Repo-Commit"]) == (
        404,
        "EntryNotFound",
        sha,
    )
    r = httpx.head(f"{hub_server.url}/{CHAT}/resolve/main/tokenizer.model")
    assert (r.status_code, r.headers["X-Error-Code"], r.headers["X-Repo-Commit"]) == (
        404,
        "EntryNotFound",
        sha,
    )
    assert httpx.get(f"{hub_server.url}/api/agent-harnesses").status_code == 404
    r = httpx.get(f"{hub_server.url}/api/datasets/someone/data")
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "RepoNotFound")


# -- ranges ---------------------------------------------------------------------------------


def test_range_requests(hub_server, tiny_models):
    data = (tiny_models[CHAT] / "model.safetensors").read_bytes()
    url = f"{hub_server.url}/{CHAT}/resolve/main/model.safetensors"
    head = httpx.head(url)
    assert head.headers["Accept-Ranges"] == "bytes" and int(head.headers["Content-Length"]) == len(
        data
    )
    assert head.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    rest = httpx.get(url, headers={"Range": f"bytes={len(data) - 5}-"})
    assert rest.status_code == 206 and rest.content == data[-5:]
    past = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{len(data)}"
    whole = httpx.get(url, headers={"Range": "bytes=0-1,5-6"})  # several ranges: whole file
    assert whole.status_code == 200 and whole.content == data


# -- finding the records, the command line ---------------------------------------------------


def test_find_shared_records(shared_data, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    found = find_shared_records()
    assert found is not None and found.samefile(shared_data / "hub-models.parquet")
    monkeypatch.setenv("NBMODELS_HUB_RECORDS", str(tmp_path / "missing.parquet"))
    assert find_shared_records() is None


def test_missing_records_file_is_a_clear_error(tmp_path):
    from nbmodels.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="does not exist"):
        HubServer(records=tmp_path / "nope.parquet").start()


def test_command_line_serves_until_stopped(tiny_models, shared_data):
    cmd = [
        sys.executable,
        "-m",
        "nbmodels.demo.hub",
        "--port",
        "0",
        "--repos",
        str(tiny_models.repos_dir),
        "--records",
        str(shared_data / "hub-models.parquet"),
        "--quiet",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:  # build (cached), then the URL lines
                lines.append(line)
                if line.startswith("export HF_ENDPOINT="):
                    break
            url = lines[-1].strip().split("=", 1)[1]
            n_records = pq.read_metadata(shared_data / "hub-models.parquet").num_rows
            assert f"(3 repos, {n_records} records)" in "".join(lines)
            info = HfApi(endpoint=url).model_info(CLASSIFIER)
            assert info.pipeline_tag == "text-classification"
        finally:
            proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_command_line_reports_a_missing_records_file(tmp_path):
    cmd = [sys.executable, "-m", "nbmodels.demo.hub", "--no-tiny-models", "--repos", str(tmp_path)]
    out = subprocess.run(
        [*cmd, "--records", str(tmp_path / "nope.parquet")], capture_output=True, text=True
    )
    assert out.returncode == 1 and "nope.parquet does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_request_text_cannot_inject_headers(hub_server):
    r = httpx.get(f"{hub_server.url}/api/models/a%0d%0aX-Evil:%201/b\u00e9")
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "RepoNotFound")
    assert "x-evil" not in r.headers and "\\xe9" in r.headers["X-Error-Message"]
