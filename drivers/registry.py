"""The lazy ``"module:Class"`` lookup behind the registries of drivers and simulators.

A registry is a plain dict from a protocol name to where its class lives; the module is
imported only when the class is first asked for (python-can's interface registry), so a
protocol whose dependencies are missing fails alone, and clearly.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from monitor.domain.errors import DriverUnavailableError, UnknownProtocolError


def load_class(registry: Mapping[str, str], name: str, base: type,
               what: str = "protocol") -> type[Any]:
    """Import and return the class registered as ``name``.

    Args:
        registry: protocol name -> ``"package.module:ClassName"``.
        name: the protocol asked for.
        base: the class it must be (a subclass of), e.g. ``HostCodec``; typed loosely
            because the bases are abstract: callers annotate what they get.
        what: how errors name an entry (``protocol``, ``simulated protocol``).

    Raises:
        UnknownProtocolError: ``name`` is not registered.
        DriverUnavailableError: its module cannot be imported, lacks the class, or the
            class is not a ``base``; chained from the import error.
    """
    try:
        target = registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise UnknownProtocolError(f"unknown {what} {name!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise DriverUnavailableError(f"{what} {name!r} cannot be loaded: {exc}") from exc
    if not (isinstance(found, type) and issubclass(found, base)):
        raise DriverUnavailableError(
            f"{what} {name!r}: {target} is not a {base.__name__} subclass")
    cls: type[Any] = found
    return cls
