"""Configuration (planned; name the entry point carefully: a submodule called like a package
function, e.g. ``configure``, replaces that function on the package once imported). Room for the seed's ``ModelConfigurationManager``.

Will own: templates (interface / knowledge / embedding), auto-configuration from a model's
own config.json / GGUF header, optimisation for speed, memory or quality from the machine's
hardware (:func:`nbmodels.hardware`, in :mod:`nbmodels.machine`), validation with suggestions, and a memory estimate
before anything is loaded. Records used: :class:`nbmodels.types.ModelConfiguration`,
:class:`nbmodels.types.ModelConfigTemplate`.
"""
