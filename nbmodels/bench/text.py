"""The text a benchmark reads: a slice of wikitext-2 bundled with nbmodels.

    >>> text = wikitext_slice()     # the first 7 articles of wikitext-2-raw-v1's test split

The slice is the test split's first 156,291 bytes (the dataset's rows joined with ``""``, so
its CRLF line ends are kept as they are), cut at an article's start; about 34,800 GPT-2
tokens. ``data/README.md`` says where it comes from, its licence (CC BY-SA 3.0 and GFDL) and
how it was cut. Read as bytes and decoded (universal newlines would change the text), and
checked against its sha256 so a damaged install is said, not measured on.
"""

from __future__ import annotations

import functools
import hashlib

from ..errors import StorageError

__all__ = ["SLICE_BYTES", "SLICE_FILE", "SLICE_NAME", "SLICE_SHA256", "wikitext_slice"]

SLICE_FILE = "wikitext-2-raw-test-slice.txt"
SLICE_NAME = "wikitext-2-raw-v1 test split, first 7 articles"
SLICE_BYTES = 156_291
SLICE_SHA256 = "edd92411d2ed8dbef4bf29edc1225a4e0a94070b3e13b3929d5e818458163b5a"


@functools.cache
def wikitext_slice() -> str:
    """The bundled slice of wikitext-2's test split (read once per process)."""
    from importlib import resources

    source = resources.files("nbmodels.bench").joinpath("data", SLICE_FILE)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise StorageError(f"The bundled benchmark text {SLICE_FILE} cannot be read ({exc}): reinstall nbmodels.") from None  # fmt: skip
    if hashlib.sha256(data).hexdigest() != SLICE_SHA256:
        raise StorageError(
            f"The bundled benchmark text {SLICE_FILE} is not the one nbmodels was built with "
            f"(sha256 differs; {len(data):,} bytes): reinstall nbmodels."
        )
    return data.decode("utf-8")
