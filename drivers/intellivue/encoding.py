"""Field encoding of the IntelliVue Data Export protocol: big-endian integers, the
``count, length`` lists, attribute value assertions and strings.

Every list in the protocol is a 16-bit count, a 16-bit byte length and the entries; an
``AttributeList`` holds ``(attribute id, length, value)`` triples ([VSCMP] ``Class3.cs``
``DecodePollObjects``, ``DecodeAvaObjects``; [MDPNP] ``data/AttributeValueList.java``; see
:mod:`drivers.intellivue.nomenclature` for the sources). Reading is strict: a declared
length that disagrees with the bytes raises :class:`~monitor.domain.errors.FrameError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from monitor.domain.errors import FrameError

T = TypeVar("T")

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def u16(value: int) -> bytes:
    """Big-endian unsigned 16-bit."""
    return _U16.pack(value & 0xFFFF)


def u32(value: int) -> bytes:
    """Big-endian unsigned 32-bit."""
    return _U32.pack(value & 0xFFFFFFFF)


class Reader:
    """Reads big-endian fields from ``data``; running short raises :class:`FrameError`.

    Args:
        data: the bytes to read.
        what: named in error messages.
    """

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        if n < 0 or self.pos + n > len(self.data):
            raise FrameError(f"{self.what}: needs {n} more bytes, has "
                             f"{len(self.data) - self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        """The next byte."""
        return self.take(1)[0]

    def u16(self) -> int:
        """The next unsigned 16-bit field."""
        value: int = _U16.unpack(self.take(2))[0]
        return value

    def u32(self) -> int:
        """The next unsigned 32-bit field."""
        value: int = _U32.unpack(self.take(4))[0]
        return value

    def sized(self) -> bytes:
        """A 16-bit length, then that many bytes."""
        return self.take(self.u16())

    def rest(self) -> bytes:
        """Everything not read yet."""
        return self.take(len(self.data) - self.pos)

    def end(self) -> None:
        """Check that everything was read."""
        if self.pos != len(self.data):
            raise FrameError(f"{self.what}: {len(self.data) - self.pos} unexpected trailing "
                             "bytes")


def sized(data: bytes) -> bytes:
    """``data`` behind its 16-bit length."""
    return u16(len(data)) + data


def counted(items: list[bytes]) -> bytes:
    """The ``count, length, items`` layout of every list in the protocol."""
    body = b"".join(items)
    return u16(len(items)) + u16(len(body)) + body


def read_counted(r: Reader, what: str) -> tuple[int, Reader]:
    """Read a ``count, length`` list head; return the count and a reader of its body."""
    count = r.u16()
    return count, Reader(r.take(r.u16()), what)


# -- attribute lists ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ava:
    """One attribute value assertion: an attribute id and its encoded value."""

    attribute_id: int
    value: bytes

    def serialize(self) -> bytes:
        """Id, length and value."""
        return u16(self.attribute_id) + sized(self.value)


def parse_attributes(r: Reader) -> tuple[Ava, ...]:
    """Read an ``AttributeList``.

    Raises:
        FrameError: the count or length disagrees with the entries.
    """
    count, body = read_counted(r, "attribute list")
    avas = tuple(Ava(body.u16(), body.sized()) for _ in range(count))
    body.end()
    return avas


def serialize_attributes(avas: Iterable[Ava]) -> bytes:
    """Encode an ``AttributeList``."""
    return counted([a.serialize() for a in avas])


def find(avas: Iterable[Ava], attribute_id: int) -> bytes | None:
    """The value of the first attribute with ``attribute_id``, or None."""
    for a in avas:
        if a.attribute_id == attribute_id:
            return a.value
    return None


def parse_string(data: bytes) -> str:
    """A ``String``: 16-bit length, then 16-bit big-endian characters; control characters
    (the NUL terminator) are dropped, as [MDPNP] ``data/String.java`` does.

    Raises:
        FrameError: the length disagrees with the bytes, or an odd number of bytes.
    """
    raw = whole(data, "string", Reader.sized)
    if len(raw) % 2:
        raise FrameError("string with an odd number of bytes")
    text = raw.decode("utf-16-be", errors="replace")
    return "".join(c for c in text if c >= " ")


def serialize_string(text: str) -> bytes:
    """Encode a ``String`` (with a NUL terminator, as monitors send it)."""
    return sized((text + "\0").encode("utf-16-be"))


def label_text(label: bytes) -> str:
    """A variable label as text (ASCII, NUL padding dropped)."""
    return label.decode("ascii", errors="replace").rstrip("\0").strip()


def whole(data: bytes, what: str, read: Callable[[Reader], T]) -> T:
    """Read one value with ``read`` from ``data``, which it must use up.

    Raises:
        FrameError: too short, or bytes left over.
    """
    r = Reader(data, what)
    out = read(r)
    r.end()
    return out


def parse_list(data: bytes, what: str, read: Callable[[Reader], T]) -> tuple[T, ...]:
    """A whole attribute value that is a ``count, length`` list, entries read with ``read``.

    Raises:
        FrameError: the count or length disagrees with the entries.
    """
    r = Reader(data, what)
    count, body = read_counted(r, what)
    items = tuple(read(body) for _ in range(count))
    body.end()
    r.end()
    return items


def parse_u16(data: bytes, what: str) -> int:
    """A 16-bit attribute value (unit code, handle).

    Raises:
        FrameError: not 2 bytes.
    """
    return whole(data, what, Reader.u16)


def parse_u32(data: bytes, what: str) -> int:
    """A 32-bit attribute value (relative time, text id).

    Raises:
        FrameError: not 4 bytes.
    """
    return whole(data, what, Reader.u32)
