"""JSON snapshots of frozen dataclass trees (the rules engine's state), and back.

Types come from the dataclasses' own annotations, so the JSON carries no class names and
a snapshot written by one version reads back in the next as long as the fields fit. When
they do not, :func:`load` raises ``ValueError`` and the caller starts afresh.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def dump(obj: Any) -> Any:
    """Turn a dataclass tree into JSON-ready data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {str(k): dump(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [dump(v) for v in obj]
    if isinstance(obj, frozenset | set):
        return sorted(dump(v) for v in obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot snapshot {type(obj).__name__}")


def load(cls: type[T], data: Any) -> T:
    """Rebuild a ``cls`` instance from :func:`dump` output.

    Raises:
        ValueError: the data does not fit the type (a snapshot from an incompatible version).
    """
    try:
        return typing.cast(T, _load(cls, data))
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"snapshot does not fit {getattr(cls, '__name__', cls)}: {exc}") from exc


def _load(tp: Any, data: Any) -> Any:
    if tp is Any:
        return data
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _load(arg, data)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                errors.append(str(exc))
        raise ValueError(f"no type of {tp} fits: {errors}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise TypeError(f"{tp.__name__} expects an object")
        hints = typing.get_type_hints(tp)
        kwargs = {f.name: _load(hints[f.name], data[f.name])
                  for f in dataclasses.fields(tp) if f.init and f.name in data}
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        args = typing.get_args(tp) or (str, Any)
        if not isinstance(data, dict):
            raise TypeError("expected an object")
        return {_load(args[0], k): _load(args[1], v) for k, v in data.items()}
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise TypeError("expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(args[0], v) for v in data)
        if len(args) != len(data):
            raise TypeError(f"expected {len(args)} items")
        return tuple(_load(a, v) for a, v in zip(args, data, strict=True))
    if origin in (frozenset, set, list):
        (arg,) = typing.get_args(tp) or (Any,)
        return origin(_load(arg, v) for v in data)
    if tp is float:
        if isinstance(data, dict) and "__float__" in data:
            return float(data["__float__"])
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise TypeError("expected a number")
        return float(data)
    if tp in (int, str, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise TypeError(f"expected {tp.__name__}")
        return data
    if tp is type(None):
        if data is not None:
            raise TypeError("expected null")
        return None
    raise TypeError(f"unsupported type {tp}")
