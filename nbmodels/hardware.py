"""The machine's real hardware (planned): CPU cores, RAM, GPUs and their memory.

Will feed :mod:`nbmodels.configure` (optimise for speed / memory / quality) and the memory
estimate shown before a model is loaded.
"""
