"""What a protocol declares about itself for the conformance suite: the option variants
to run it in and the known limits of its wire format.

Each host codec carries a :class:`Conformance` (``HostCodec.conformance``) and may
override ``HostCodec.lost_bytes_blind_spot``; ``tests/test_conformance.py`` reads both
through the registry, so a new protocol declares its own special cases next to its codec
and the suite needs no change. The throughput benchmark runs the same variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Variant:
    """One way to run a protocol: host codec options against simulated device options.

    Attributes:
        id: short name in test ids (``df8``); empty for the only variant.
        host: options for ``drivers.codec(name, **host)``.
        device: options for ``simulators.device_codec(name, **device)``.
    """

    id: str = ""
    host: Mapping[str, Any] = field(default_factory=dict)
    device: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BlindSpot:
    """A loss of bytes that the wire format cannot reveal (documented in
    ``docs/devices/<protocol>.md``): the host may decode on without counting it.

    Attributes:
        reason: what was lost, in a few words.
        values: the loss may change a decoded value (a digit lost from a number with no
            checksum around it); the suite then only checks that the value is one a
            device can measure.
    """

    reason: str
    values: bool = False


@dataclass(frozen=True, slots=True)
class Conformance:
    """A protocol's declarations for the conformance suite.

    Attributes:
        variants: every mode whose wire format differs and must be checked; the default
            is one run with no options.
        first_value: seconds a real port may take to deliver the first value (a device
            that sends every few seconds, or only after a handshake, needs longer).
    """

    variants: tuple[Variant, ...] = (Variant(),)
    first_value: float = 5.0
