"""Session layer of the IntelliVue Data Export protocol: the association PDUs.

Every association message is a session id (``0D`` request, ``0E`` result, ``0C`` refuse,
``09`` release request, ``0A`` release response, ``19`` abort), a length indicator (one
byte below 255, else ``FF`` + 16 bits), parameters ``(id, length, value)`` and, after
``C1`` + length indicator, the presentation PDU ([MDPNP] ``association/
AssociationProtocolImpl.java``, ``data/LengthInformation.java``; [VSCMP] ``Class2.cs``
``aarq_msg...``, ``rlrq_msg``, ``assoc_abort_resp_msg``).

The presentation PDUs are ASN.1 BER with fixed content; the request and the result carry
the ``MDSEUserInfoStd`` (versions, system type, poll profile) behind a BER length
([MDPNP] ``association/MDSEUserInfoStd.java``, ``data/PollProfileSupport.java``,
``data/PollProfileExtensions.java``, ``data/ASNLength.java``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.encoding import (
    Ava,
    Reader,
    find,
    parse_attributes,
    serialize_attributes,
    u16,
    u32,
    whole,
)
from monitor.domain.errors import FrameError


def length_indicator(n: int) -> bytes:
    """A session length indicator: one byte below 255, else ``FF`` + 16 bits."""
    if n < 255:
        return bytes((n,))
    if n > 0xFFFF:
        raise ValueError(f"length {n} too long for a length indicator")
    return b"\xff" + u16(n)


def read_length_indicator(r: Reader) -> int:
    """Read a length indicator; a long form for a short length is refused.

    Raises:
        FrameError: truncated or not in its shortest form.
    """
    first = r.u8()
    if first != 0xFF:
        return first
    n = r.u16()
    if n < 255:
        raise FrameError(f"length indicator FF {n:04X} not in its short form")
    return n


@dataclass(frozen=True, slots=True)
class SessionPdu:
    """An association message: session id, parameters and the presentation data.

    Attributes:
        si: ``SI_CN``, ``SI_AC``, ``SI_RF``, ``SI_FN``, ``SI_DN`` or ``SI_AB``.
        params: ``(parameter id, value)`` pairs, in order.
        presentation: the presentation PDU after ``C1``; empty when the message has none
            (then no ``C1`` is sent, as [MDPNP] ``LengthInformation`` writes nothing for 0).
    """

    si: int
    params: tuple[tuple[int, bytes], ...] = ()
    presentation: bytes = b""

    def serialize(self) -> bytes:
        """The message bytes (the user data of a serial frame)."""
        body = b"".join(bytes((pi,)) + length_indicator(len(v)) + v for pi, v in self.params)
        if self.presentation:
            body += (bytes((nom.PRESENTATION_TAG,)) + length_indicator(len(self.presentation))
                     + self.presentation)
        return bytes((self.si,)) + length_indicator(len(body)) + body

    @classmethod
    def parse(cls, data: bytes) -> SessionPdu:
        """Parse an association message.

        Raises:
            FrameError: lengths disagree with the bytes.
        """
        r = Reader(data, "session PDU")
        si = r.u8()
        body = Reader(r.take(read_length_indicator(r)), "session PDU body")
        r.end()
        params: list[tuple[int, bytes]] = []
        presentation = b""
        while body.pos < len(body.data):
            pi = body.u8()
            value = body.take(read_length_indicator(body))
            if pi == nom.PRESENTATION_TAG:
                if not value:
                    raise FrameError("empty presentation data is sent as nothing")
                presentation = value
                body.end()
                break
            params.append((pi, value))
        return cls(si, tuple(params), presentation)


def parse_session_pdu(data: bytes) -> SessionPdu:
    """Parse an association message and check its session id.

    Raises:
        FrameError: an unknown session id, or lengths that disagree.
    """
    if not data or data[0] not in _KNOWN_SI:
        raise FrameError(f"unknown session id {data[:1].hex() or 'none'}")
    return SessionPdu.parse(data)


_KNOWN_SI = frozenset({nom.SI_CN, nom.SI_AC, nom.SI_RF, nom.SI_FN, nom.SI_DN, nom.SI_AB})

# -- fixed presentation bytes ([MDPNP] association/impl/*Impl.java; the request bytes are
#    also those of [VSCMP] Class2.cs aarq_msg) ------------------------------------------------

CONNECT_PARAMS: tuple[tuple[int, bytes], ...] = (
    (nom.PI_SESSION_REQUIREMENTS, bytes.fromhex("13 01 00 16 01 02 80 00")),
    (nom.PI_VERSION, bytes.fromhex("00 02")),
)
"""Session parameters of the association request and result."""

_OID = "06 0c 2a 86 48 ce 14 02 01 00 00 00"  # an object identifier, minus its last 2 bytes

REQUEST_HEADER = bytes.fromhex(
    "31 80 a0 80 80 01 01 00 00 a2 80 a0 03 00 00 01 a4 80 30 80 02 01 01 06 04 52 01 00 01"
    " 30 80 06 02 51 01 00 00 00 00 30 80 02 01 02" + _OID.replace("06 0c", " 06 0c") +
    " 01 01 30 80" + _OID + " 02 01 00 00 00 00 00 00 61 80 30 80 02 01 01 a0 80 60 80 a1"
    " 80" + _OID + " 03 01 00 00 be 80 28 80" + _OID + " 01 01 02 01 02 81"
)
"""Presentation bytes of the association request up to the user-info tag ``81``."""

RESULT_HEADER = bytes.fromhex(
    "31 80 a0 80 80 01 01 00 00 a2 80 a0 03 00 00 01 a5 80 30 80 80 01 00 81 02 51 01 00 00"
    " 30 80 80 01 00 81 0c 2a 86 48 ce 14 02 01 00 00 00 02 01 00 00 00 00 61 80 30 80 02"
    " 01 01 a0 80 61 80 a1 80" + _OID + " 03 01 00 00 a2 03 02 01 00 a3 05 a1 03 02 01 00"
    " be 80 28 80 02 01 02 81"
)
"""Presentation bytes of the association result (accept) up to the user-info tag."""

USER_INFO_TRAILER = bytes(16)
"""Zeros that close the indefinite-length BER encodings after the user info."""

RELEASE_REQUEST_PRESENTATION = bytes.fromhex(
    "61 80 30 80 02 01 01 a0 80 62 80 80 01 00 00 00 00 00 00 00 00 00")
RELEASE_RESPONSE_PRESENTATION = bytes.fromhex(
    "61 80 30 80 02 01 01 a0 80 63 80 80 01 00 00 00 00 00 00 00 00 00")
ABORT_PARAMS: tuple[tuple[int, bytes], ...] = ((nom.PI_ABORT_REASON, b"\x03"),)
ABORT_PRESENTATION = bytes.fromhex(
    "a0 80 a0 80 30 80 02 01 01 06 02 51 01 00 00 00 00 61 80 30 80 02 01 01 a0 80 64 80 80"
    " 01 01 00 00 00 00 00 00 00 00 00 00")


def release_request() -> SessionPdu:
    """The release request (``09``) a host sends before it goes."""
    return SessionPdu(nom.SI_FN, (), RELEASE_REQUEST_PRESENTATION)


def release_response() -> SessionPdu:
    """The release response (``0A``) to a release request."""
    return SessionPdu(nom.SI_DN, (), RELEASE_RESPONSE_PRESENTATION)


def abort() -> SessionPdu:
    """The abort (``19``) a monitor sends when it drops the association."""
    return SessionPdu(nom.SI_AB, ABORT_PARAMS, ABORT_PRESENTATION)


def refuse(reason: int = 0) -> SessionPdu:
    """The refuse (``0C``): a reason parameter and no presentation data ([MDPNP]
    ``AssociationRefuseImpl`` and ``AssociationProtocolImpl``)."""
    return SessionPdu(nom.SI_RF, ((nom.PI_REFUSE_REASON, bytes((reason & 0xFF,))),))


# -- BER lengths ---------------------------------------------------------------------------


def ber_length(n: int, octets: int = 0) -> bytes:
    """A BER definite length. ``octets`` forces the long form with that many octets; 0
    uses [MDPNP] ``ASNLength``'s choice (short below 128, else bits // 8 + 1 octets)."""
    if octets == 0:
        if n < 128:
            return bytes((n,))
        octets = n.bit_length() // 8 + 1
    return bytes((0x80 | octets,)) + n.to_bytes(octets, "big")


def read_ber_length(r: Reader) -> tuple[int, int]:
    """Read a BER definite length: ``(length, long-form octets or 0)``.

    Raises:
        FrameError: the indefinite form or more than 4 octets.
    """
    first = r.u8()
    if first < 0x80:
        return first, 0
    octets = first & 0x7F
    if not 1 <= octets <= 4:
        raise FrameError(f"unsupported BER length form {first:02X}")
    return int.from_bytes(r.take(octets), "big"), octets


# -- user info -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollProfileSupport:
    """``NOM_POLL_PROFILE_SUPPORT``: the poll profile offered by host or monitor.

    Attributes:
        revision: ``POLL_PROFILE_REV_0``.
        min_poll_period: RelativeTime (1/8 ms).
        max_mtu_rx, max_mtu_tx, max_bw_tx: sizes and bandwidth.
        options: ``P_OPT_*`` bits.
        packages: optional packages; ``NOM_ATTR_POLL_PROFILE_EXT`` holds the extended
            poll options (``POLL_EXT_*``) and a list of further attributes.
    """

    revision: int = nom.POLL_PROFILE_REV_0
    min_poll_period: int = 1000
    max_mtu_rx: int = 2500
    max_mtu_tx: int = 1000
    max_bw_tx: int = 0xFFFFFFFF
    options: int = nom.P_OPT_DYN_CREATE_OBJECTS | nom.P_OPT_DYN_DELETE_OBJECTS
    packages: tuple[Ava, ...] = ()

    @classmethod
    def with_extensions(cls, ext_options: int, **fields: int) -> PollProfileSupport:
        """A profile whose extended poll options are ``ext_options``."""
        ext = Ava(nom.NOM_ATTR_POLL_PROFILE_EXT, u32(ext_options) + serialize_attributes(()))
        return cls(packages=(ext,), **fields)

    @property
    def ext_options(self) -> int:
        """The ``POLL_EXT_*`` bits, 0 without the extension package."""
        ext = find(self.packages, nom.NOM_ATTR_POLL_PROFILE_EXT)
        return int.from_bytes(ext[:4], "big") if ext is not None and len(ext) >= 4 else 0

    @classmethod
    def parse(cls, data: bytes) -> PollProfileSupport:
        """Parse the attribute value.

        Raises:
            FrameError: truncated or with trailing bytes.
        """
        return whole(data, "poll profile support", lambda r: cls(
            r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), parse_attributes(r)))

    def serialize(self) -> bytes:
        """The attribute value."""
        head = b"".join(u32(v) for v in (self.revision, self.min_poll_period, self.max_mtu_rx,
                                         self.max_mtu_tx, self.max_bw_tx, self.options))
        return head + serialize_attributes(self.packages)


@dataclass(frozen=True, slots=True)
class MdseUserInfo:
    """``MDSEUserInfoStd``: what an association request or result says about its sender."""

    protocol_version: int = nom.MDDL_VERSION1
    nomenclature_version: int = nom.NOMEN_VERSION
    functional_units: int = 0
    system_type: int = nom.SYST_CLIENT
    startup_mode: int = nom.COLD_START
    options: tuple[Ava, ...] = ()
    profiles: tuple[Ava, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> MdseUserInfo:
        """Parse the user info.

        Raises:
            FrameError: truncated or with trailing bytes.
        """
        return whole(data, "MDSE user info", lambda r: cls(
            r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), parse_attributes(r),
            parse_attributes(r)))

    def serialize(self) -> bytes:
        """The user info bytes."""
        head = b"".join(u32(v) for v in (self.protocol_version, self.nomenclature_version,
                                         self.functional_units, self.system_type,
                                         self.startup_mode))
        return head + serialize_attributes(self.options) + serialize_attributes(self.profiles)

    def poll_profile(self) -> PollProfileSupport | None:
        """The poll profile, or None when absent or malformed."""
        value = find(self.profiles, nom.NOM_POLL_PROFILE_SUPPORT)
        if value is None:
            return None
        try:
            return PollProfileSupport.parse(value)
        except FrameError:
            return None

    @classmethod
    def with_profile(cls, profile: PollProfileSupport, system_type: int = nom.SYST_CLIENT,
                     startup_mode: int = nom.COLD_START) -> MdseUserInfo:
        """User info of a ``system_type`` offering ``profile``."""
        return cls(system_type=system_type, startup_mode=startup_mode,
                   profiles=(Ava(nom.NOM_POLL_PROFILE_SUPPORT, profile.serialize()),))


# -- association request and result --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Association:
    """An association request (``SI_CN``) or result (``SI_AC``) with its user info.

    The presentation bytes around the user info are kept as received, so a monitor whose
    fixed bytes differ a little still round-trips exactly.

    Attributes:
        si: ``SI_CN`` or ``SI_AC``.
        user_info: the sender's ``MDSEUserInfoStd``.
        header: presentation bytes up to the user-info tag ``81``.
        trailer: presentation bytes after the user info.
        params: session parameters.
        length_octets: long-form octets of the user-info BER length (0: the usual choice).
    """

    si: int
    user_info: MdseUserInfo
    header: bytes = b""
    trailer: bytes = USER_INFO_TRAILER
    params: tuple[tuple[int, bytes], ...] = CONNECT_PARAMS
    length_octets: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.header:
            default = REQUEST_HEADER if self.si == nom.SI_CN else RESULT_HEADER
            object.__setattr__(self, "header", default)

    def pdu(self) -> SessionPdu:
        """The session PDU."""
        info = self.user_info.serialize()
        pres = self.header + ber_length(len(info), self.length_octets) + info + self.trailer
        return SessionPdu(self.si, self.params, pres)

    def serialize(self) -> bytes:
        """The message bytes."""
        return self.pdu().serialize()

    @classmethod
    def from_pdu(cls, pdu: SessionPdu) -> Association:
        """Read the user info out of a request or result.

        Raises:
            FrameError: not a request or result, or no readable user info.
        """
        if pdu.si not in (nom.SI_CN, nom.SI_AC):
            raise FrameError(f"session id {pdu.si:02X} carries no association user info")
        pres = pdu.presentation
        start = _user_info_start(pres)
        r = Reader(pres, "association presentation")
        r.take(start)
        n, octets = read_ber_length(r)
        info = MdseUserInfo.parse(r.take(n))
        return cls(pdu.si, info, pres[:start], r.rest(), pdu.params, octets)


def _user_info_start(pres: bytes) -> int:
    """Offset of the user info's BER length: after the ``81`` tag that follows the
    ``BE 80 28 80`` external/indefinite opening and its optional OID and integer
    ([MDPNP] ``AssociationAcceptImpl.presentationHeaderEnds``).

    Raises:
        FrameError: no such tag.
    """
    at = pres.find(b"\xbe\x80\x28\x80")
    if at < 0:
        raise FrameError("association without user info")
    r = Reader(pres, "association presentation")
    r.take(at + 4)
    while True:
        tag = r.u8()
        if tag == 0x81:
            return r.pos
        if tag not in (0x02, 0x06):
            raise FrameError(f"unexpected tag {tag:02X} before the user info")
        r.take(r.u8())
