"""GGUF headers: real files written with gguf.GGUFWriter, read back with read_gguf_info."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nbmodels.errors import NBModelsError
from nbmodels.gguf_info import GGUFError, is_gguf, read_gguf_info


def write_tiny_gguf(
    path: Path,
    *,
    arch: str = "llama",
    name: str | None = "Tiny Llama",
    parameter_count: int | None = 1_100_048_384,
    context_length: int | None = 2048,
    file_type: int | None = 15,  # MOSTLY_Q4_K_M
    vocab: int = 300,
    chat_template: str | None = "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    pooling: bool = False,
    tensors: dict[str, np.ndarray] | None = None,
) -> Path:
    """A real, tiny GGUF file: header, a vocabulary array, and a couple of small tensors."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    if name is not None:
        writer.add_name(name)
    if parameter_count is not None:
        writer.add_uint64("general.parameter_count", parameter_count)
    if context_length is not None:
        writer.add_context_length(context_length)
    writer.add_embedding_length(8)
    if file_type is not None:
        writer.add_file_type(file_type)
    if pooling:
        writer.add_uint32(f"{arch}.pooling_type", 1)
    writer.add_array(f"{arch}.rope.dimension_sections", [1, 2, 3])
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    if tensors is None:
        tensors = {
            "token_embd.weight": np.ones((16, 8), dtype=np.float32),
            "output_norm.weight": np.ones((8,), dtype=np.float32),
        }
    for tname, array in tensors.items():
        writer.add_tensor(tname, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_reads_the_header_of_a_real_gguf(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.Q4_K_M.gguf")
    info = read_gguf_info(path)
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.name == "Tiny Llama"
    assert info.parameter_count == 1_100_048_384  # general.parameter_count wins over tensors
    assert info.context_length == 2048
    assert info.embedding_length == 8
    assert (info.file_type, info.quantization) == (15, "Q4_K_M")
    assert info.tensor_count == 2
    assert info.chat_template is not None and "messages" in info.chat_template
    assert not info.pooling


def test_metadata_keeps_scalars_and_short_arrays_and_leaves_out_the_vocabulary(
    tmp_path: Path,
) -> None:
    info = read_gguf_info(write_tiny_gguf(tmp_path / "m.gguf", vocab=5000))
    assert info.metadata["general.architecture"] == "llama"
    assert info.metadata["llama.context_length"] == 2048
    assert isinstance(info.metadata["llama.context_length"], int)  # not a numpy scalar
    assert info.metadata["llama.rope.dimension_sections"] == [1, 2, 3]
    assert "tokenizer.ggml.tokens" not in info.metadata
    assert info.array_lengths["tokenizer.ggml.tokens"] == 5000
    assert "tokenizer.chat_template" not in info.metadata  # it has its own field


def test_parameter_count_is_summed_from_the_tensors_when_the_header_lacks_it(
    tmp_path: Path,
) -> None:
    tensors = {
        "token_embd.weight": np.zeros((32, 8), dtype=np.float32),
        "blk.0.attn_q.weight": np.zeros((8, 8), dtype=np.float16),
        "output_norm.weight": np.zeros((8,), dtype=np.float32),
    }
    path = write_tiny_gguf(
        tmp_path / "m.gguf", parameter_count=None, file_type=None, tensors=tensors
    )
    info = read_gguf_info(path)
    assert info.parameter_count == 32 * 8 + 8 * 8 + 8
    # without general.file_type the quantization is the tensor type holding most bytes
    assert info.file_type is None
    assert info.quantization == "F32"


def test_minimal_header_without_names(tmp_path: Path) -> None:
    path = write_tiny_gguf(
        tmp_path / "m.gguf", name=None, context_length=None, chat_template=None, pooling=True
    )
    info = read_gguf_info(path)
    assert info.name is None and info.context_length is None and info.chat_template is None
    assert info.pooling  # an embedding model


def test_garbage_file_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.gguf"
    path.write_bytes(b"this is not a model at all\n" * 10)
    assert not is_gguf(path)
    with pytest.raises(GGUFError, match="not a GGUF file") as excinfo:
        read_gguf_info(path)
    assert isinstance(excinfo.value, NBModelsError) and isinstance(excinfo.value, ValueError)


def test_truncated_file_raises_a_clear_error(tmp_path: Path) -> None:
    good = write_tiny_gguf(tmp_path / "good.gguf", vocab=2000)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[:4000])  # inside the vocabulary array
    assert is_gguf(cut)
    with pytest.raises(GGUFError, match="truncated"):
        read_gguf_info(cut)


def test_file_cut_inside_the_weights_is_damaged(tmp_path: Path) -> None:
    good = write_tiny_gguf(tmp_path / "good.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[:-16])  # the header is whole, the last tensor is not
    with pytest.raises(GGUFError, match=r"tensors need \d+ bytes but the file has"):
        read_gguf_info(cut)


def test_agrees_with_the_gguf_packages_own_reader(tmp_path: Path) -> None:
    """The hand-written header walk against gguf.GGUFReader on the same file."""
    import gguf

    path = tmp_path / "typed.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_uint8("t.u8", 200)
    writer.add_int8("t.i8", -5)
    writer.add_uint16("t.u16", 60000)
    writer.add_int16("t.i16", -300)
    writer.add_int32("t.i32", -70000)
    writer.add_float32("t.f32", 0.5)
    writer.add_float64("t.f64", 1e-300)
    writer.add_int64("t.i64", -(2**40))
    writer.add_bool("t.bool", True)
    writer.add_string("t.str", "héllo")
    writer.add_array("t.strs", ["a", "bb", "ccc"])
    writer.add_array("t.floats", [0.25, 0.5])
    writer.add_array("t.long", list(range(1000)))
    writer.add_token_list([f"w{i}" for i in range(500)])
    writer.add_tensor("a", np.ones((3, 5), dtype=np.float16))
    writer.add_tensor("b", np.ones((7,), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    info = read_gguf_info(path)
    reader = gguf.GGUFReader(path)
    theirs = {
        k: f.contents()
        for k, f in reader.fields.items()
        if not k.startswith("GGUF.") and len(f.data) <= 64
    }
    assert info.metadata == theirs
    assert info.array_lengths == {"t.long": 1000, "tokenizer.ggml.tokens": 500}
    assert info.tensor_count == len(reader.tensors) == 2
    assert info.parameter_count == sum(t.n_elements for t in reader.tensors) == 22
    assert info.quantization == "F16"  # 30 bytes of F16 against 28 of F32


@pytest.mark.parametrize("content", [b"", b"GGUF"])
def test_empty_and_magic_only_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFError):
        read_gguf_info(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="Check the path"):
        read_gguf_info(tmp_path / "nope.gguf")
    with pytest.raises(GGUFError, match="not a file"):
        read_gguf_info(tmp_path)
    assert not is_gguf(tmp_path / "nope.gguf")


def test_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf", name="first")
    assert read_gguf_info(path).name == "first"
    write_tiny_gguf(path, name="second, a longer name")  # new size and mtime: cache misses
    assert read_gguf_info(path).name == "second, a longer name"
