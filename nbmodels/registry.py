"""The model registry (planned). Room for the seed's ``ModelRegistryManager``.

Will own: a persistent registry in a DuckDB file with lifecycle (available / active),
dependencies, usage statistics, backup and restore, numbered schema migrations, and safe
use from two kernels at once. Records used: :class:`nbmodels.types.ModelRegistryEntry`.
"""
