"""How a model is to be run: configurations (validated, from templates or the model's own
files, tuned for a goal, kept as YAML per model) and the memory estimate before a load."""
