"""``python -m nbmodels``: the command line (see :mod:`nbmodels.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
