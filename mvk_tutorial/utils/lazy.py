"""Package namespaces that import their modules on first use (PEP 562).

``import mvk_tutorial`` and the ``mvk`` command's start-up must not pay for torch and
torchvision when a command (or ``--help``) does not need them. A package ``__init__``
lists its public names and the module each lives in; :func:`lazy_exports` returns the
module-level ``__getattr__`` and ``__dir__`` that import the module when a name is
first read. ``from package import name`` works as before.

Book: ch00, section "Setting up: the two commands".
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, names: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package`` exporting ``name -> module`` lazily.

    Book: ch00, section "Setting up: the two commands".
    """

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(names[name])
        value = getattr(module, name)
        importlib.import_module(package).__dict__[name] = value  # cache
        return value

    def __dir__():
        return sorted(set(names) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
