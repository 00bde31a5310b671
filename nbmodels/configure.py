"""Configuration (planned). Room for the seed's ``ModelConfigurationManager``.

Will own: templates (interface / knowledge / embedding), auto-configuration from a model's
own config.json / GGUF header, optimisation for speed, memory or quality from the machine's
hardware (:mod:`nbmodels.hardware`), validation with suggestions, and a memory estimate
before anything is loaded. Records used: :class:`nbmodels.types.ModelConfiguration`,
:class:`nbmodels.types.ModelConfigTemplate`.
"""
