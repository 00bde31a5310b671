"""Models carried to a machine without a network, in one archive: ``pack`` and ``unpack``.

    >>> report = nbmodels.pack(["nbmodels-demo/tiny-llama-chat", "ollama:tinyllama-chat"],
    ...                        "models.tar")           # on a machine with the models
    >>> nbmodels.unpack("models.tar")                  # on the one without a network

The archive is one uncompressed tar of an OCI image layout (one CNCF ModelPack manifest per
Hugging Face model, each Ollama model's own manifest, the lockfile and the registry records):
see :mod:`nbmodels.packing.oci` for what is followed of the ModelPack spec and what is not.
``unpack`` checks every file's sha256 before it installs anything, then puts the files
where ``transformers`` (``HF_HUB_OFFLINE=1``) and Ollama look for them, and registers the
models with their stored configurations in this home, each at the version it is at when
packed: a model's earlier versions are not carried (roll back and pack again for one).

Named ``packing``, not ``pack``: a subpackage named like the function ``nbmodels.pack``
would replace that function on ``nbmodels`` once imported (as ``downloader`` for
``download``).

Its modules, one concept each:

* :mod:`~nbmodels.packing.oci`: the layout's documents, written and read back (and
  :class:`PackError`);
* :mod:`~nbmodels.packing.collect`: what a pack carries from this home, every file accounted for;
* :mod:`~nbmodels.packing.archive`: :func:`pack` and :func:`unpack`, the tar written and read safely;
* :mod:`~nbmodels.packing.install`: the checked files put into the HF cache and Ollama's store,
  the registry, configurations and lockfile;
* :mod:`~nbmodels.packing.reports`: :class:`PackReport`, :class:`UnpackReport`, :class:`PackProgress`.
"""

from __future__ import annotations

from .archive import pack, unpack
from .oci import PackError
from .reports import PackProgress, PackReport, UnpackReport

__all__ = ["PackError", "PackProgress", "PackReport", "UnpackReport", "pack", "unpack"]
