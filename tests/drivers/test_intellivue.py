"""Philips IntelliVue Data Export: golden frames both ways, escapes, FCS, FLOAT-Type,
measurement states, the association handshake, NIBP time, alarms, waves, real I/O.

Golden bytes are written out field by field from the published wire format (the Data
Export structures as VSCaptureMP and OpenICE encode them); the FCS is computed here by
the bit-by-bit algorithm of RFC 1662, independently of the driver's table.
"""

from __future__ import annotations

import asyncio

import pytest

import drivers
from drivers.intellivue import decode
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.frames import (
    AbsoluteTime,
    ActionArgument,
    Association,
    Ava,
    BadFrame,
    DataMessage,
    Deframer,
    DevAlarmEntry,
    Error,
    EventReport,
    EventReportResult,
    Float,
    Invoke,
    LinkedResult,
    MdseUserInfo,
    NuObsValue,
    ObservationPoll,
    PollProfileSupport,
    PollReply,
    PollRequest,
    Result,
    SaObsValue,
    SaSpec,
    ScaleRangeSpec,
    SerialFrame,
    SessionPdu,
    SetArgument,
    StrAlMonInfo,
    SystemModel,
    abort,
    fcs16,
    parse_message,
    parse_session_pdu,
    refuse,
    release_request,
    release_response,
    serialize_alarm_list,
    serialize_compound_numeric,
    to_frame,
    unescape,
)
from drivers.intellivue.host import KEEPALIVE_S, IntelliVueHostCodec
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceStatus, Flag, Observation, Waveform
from simulators.intellivue import IntelliVueDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Vitals
from tests.conftest import MS

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
BCD_T0 = bytes.fromhex("20 23 11 14 22 13 20 00")  # century year month day h m s 1/100


def rfc1662_fcs(data: bytes) -> bytes:
    """The two FCS bytes, bit by bit (RFC 1662: reflected 0x8408, init FFFF, complement,
    least significant byte first)."""
    fcs = 0xFFFF
    for byte in data:
        fcs ^= byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    fcs ^= 0xFFFF
    return bytes((fcs & 0xFF, fcs >> 8))


def stuff(data: bytes) -> bytes:
    """Transparency by hand: C0, C1 and 7D become 7D + byte XOR 20."""
    out = bytearray()
    for b in data:
        out += bytes((0x7D, b ^ 0x20)) if b in (0xC0, 0xC1, 0x7D) else bytes((b,))
    return bytes(out)


def wire(user_data: bytes) -> bytes:
    """A serial frame around ``user_data``: C0, header 11 01 + length, data, FCS, C1."""
    body = bytes((0x11, 0x01, len(user_data) >> 8, len(user_data) & 0xFF)) + user_data
    return b"\xc0" + stuff(body + rfc1662_fcs(body)) + b"\xc1"


def hexb(text: str) -> bytes:
    """Bytes from hex written with spaces and comments (after '#') on each line."""
    return bytes.fromhex(" ".join(line.split("#")[0] for line in text.splitlines()))


def host(**options: object) -> IntelliVueHostCodec:
    codec = drivers.codec("intellivue", device_id="bed-1", **options)
    assert isinstance(codec, IntelliVueHostCodec)
    return codec


def sent_messages(codec: IntelliVueHostCodec) -> list[object]:
    """What the host queued, parsed back."""
    out: list[object] = []
    for chunk in codec.data_to_send():
        for item in Deframer().feed(chunk):
            assert isinstance(item, SerialFrame), item
            out.append(parse_message(item.user_data))
    return out


# -- FCS and serial framing ----------------------------------------------------------------


def test_fcs_matches_rfc1662_check_value():
    # RFC 1662's FCS-16 of "123456789" is 0x906E (sent 6E 90).
    assert fcs16(b"123456789") ^ 0xFFFF == 0x906E
    assert rfc1662_fcs(b"123456789") == b"\x6e\x90"
    # Over data and its FCS together the register ends at the "good FCS" 0xF0B8.
    assert fcs16(b"123456789" + b"\x6e\x90") == 0xF0B8


MDS_CREATE_RESULT = hexb("""
    e1 00        # session id: data SPDU
    00 02        # presentation context id
    00 02        # ro_type RORS_APDU (remote operation result)
    00 14        # length 20
    00 01        # invoke id 1, echoed from the event report
    00 01        # command CMD_CONFIRMED_EVENT_REPORT
    00 0e        # length 14
    00 21 00 00 00 00  # managed object: NOM_MOC_VMS_MDS (33), context 0, handle 0
    00 0a bd 00  # current time, relative (1/8 ms)
    0d 06        # event type NOM_NOTI_MDS_CREAT (3334)
    00 00        # no event info
""")


def test_mds_create_result_golden_both_ways():
    frame = wire(MDS_CREATE_RESULT)
    assert frame[:5] == bytes.fromhex("c0 11 01 00 1c")  # BOF, header, 28 bytes of data
    message = DataMessage(Result(1, nom.CMD_CONFIRMED_EVENT_REPORT, EventReportResult(
        nom.NOM_NOTI_MDS_CREAT, 0x000ABD00).serialize()))
    assert SerialFrame.parse(frame) == SerialFrame(MDS_CREATE_RESULT)
    assert SerialFrame(MDS_CREATE_RESULT).serialize() == frame
    assert parse_message(MDS_CREATE_RESULT) == message
    assert message.serialize() == MDS_CREATE_RESULT
    assert to_frame(message) == frame


def test_escapes_inside_payload_and_fcs():
    # Relative time 00 C0 C1 7D puts all three special bytes in the payload; search the
    # handle for a value that also puts one in the FCS.
    for handle in range(0x10000):
        data = MDS_CREATE_RESULT[:14] + handle.to_bytes(2, "big") + MDS_CREATE_RESULT[16:]
        data = data[:20] + b"\x00\xc0\xc1\x7d" + data[24:]
        body = b"\x11\x01\x00\x1c" + data
        if set(rfc1662_fcs(body)) & {0xC0, 0xC1, 0x7D}:
            break
    frame = wire(data)
    assert b"\x7d\xe0\x7d\xe1\x7d\x5d" in frame  # C0 C1 7D of the payload, escaped
    assert frame.count(0xC0) == 1 and frame.count(0xC1) == 1  # only the delimiters
    assert SerialFrame.parse(frame) == SerialFrame(data)
    assert SerialFrame(data).serialize() == frame
    assert [f.user_data for f in Deframer().feed(frame) if isinstance(f, SerialFrame)] == [data]


def test_unescape_rejects_bad_escapes():
    with pytest.raises(FrameError, match="bad escape"):
        unescape(b"\x11\x7d\x00")
    with pytest.raises(FrameError, match="aborted"):
        unescape(b"\x11\x7d")
    with pytest.raises(FrameError, match="bad escape"):
        unescape(b"\x7d\x7d\x5d")


def test_deframer_counts_bad_fcs_and_skips_it():
    good = wire(MDS_CREATE_RESULT)
    bad = bytearray(good)
    bad[10] ^= 0x01  # one bit flipped in the payload
    out = Deframer().feed(bytes(bad) + good)
    assert isinstance(out[0], BadFrame) and "FCS" in out[0].reason
    assert out[1] == SerialFrame(MDS_CREATE_RESULT)


@pytest.mark.parametrize(
    ("junk", "reason"),
    [
        (b"\x01\x02\x03", "outside a frame"),  # garbage between frames
        (b"\xc0\x11\x01\x00", "cut short"),  # a truncated frame, then a new C0
        (b"\xc0\x11\x01\x7d\xc1", "aborted"),  # 7D C1 aborts a frame
        (b"\xc0\x11\x01\x7d\x00\xc1", "bad escape"),
        (b"\xc0\x12\x01\x00\x00\x00\x00\xc1", "header"),  # not the Data Export protocol
        (b"\xc1", "outside a frame"),  # a stray end of frame
    ],
)
def test_deframer_skips_garbage_and_resyncs(junk: bytes, reason: str):
    good = wire(MDS_CREATE_RESULT)
    items = Deframer().feed(good + junk + good)
    frames = [i for i in items if isinstance(i, SerialFrame)]
    bad = [i for i in items if isinstance(i, BadFrame)]
    assert len(frames) == 2
    assert len(bad) == 1 and reason in bad[0].reason, bad
    # The same, byte by byte.
    deframer = Deframer()
    split = [i for b in good + junk + good for i in deframer.feed(bytes((b,)))]
    assert [type(i) for i in split] == [type(i) for i in items]


def test_deframer_reports_a_partial_frame_at_eof():
    deframer = Deframer()
    assert deframer.feed(wire(MDS_CREATE_RESULT)[:9]) == []
    lost = deframer.eof()
    assert lost is not None and lost.discarded == 9


# -- session layer -------------------------------------------------------------------------

# The fixed presentation bytes of the association request ([MDPNP]
# AssociationConnectImpl.PRESENTATION_HEADER, identical in [VSCMP] aarq_msg): BER with
# indefinite lengths, ending with the tag 81 of the user info.
AARQ_PRESENTATION_HEADER = hexb("""
    31 80 a0 80 80 01 01 00 00 a2 80 a0 03 00 00 01 a4 80 30 80 02 01 01 06 04 52 01 00 01
    30 80 06 02 51 01 00 00 00 00 30 80 02 01 02 06 0c 2a 86 48 ce 14 02 01 00 00 00 01 01
    30 80 06 0c 2a 86 48 ce 14 02 01 00 00 00 02 01 00 00 00 00 00 00 61 80 30 80 02 01 01
    a0 80 60 80 a1 80 06 0c 2a 86 48 ce 14 02 01 00 00 00 03 01 00 00 be 80 28 80 06 0c 2a
    86 48 ce 14 02 01 00 00 00 01 01 02 01 02 81
""")
AARQ_USER_INFO = hexb("""
    80 00 00 00  # protocol version MDDL_VERSION1
    40 00 00 00  # nomenclature version NOMEN_VERSION
    00 00 00 00  # functional units
    80 00 00 00  # system type SYST_CLIENT
    20 00 00 00  # startup mode COLD_START
    00 00 00 00  # option list: count 0, length 0
    00 01 00 2c  # supported profiles: count 1, length 44
    00 01 00 28  #   NOM_POLL_PROFILE_SUPPORT, length 40
    80 00 00 00  #     poll profile revision POLL_PROFILE_REV_0
    00 00 03 e8  #     min poll period 1000 x 1/8 ms
    00 00 09 c4  #     max MTU rx 2500
    00 00 03 e8  #     max MTU tx 1000
    ff ff ff ff  #     max bandwidth tx
    60 00 00 00  #     options P_OPT_DYN_CREATE_OBJECTS | P_OPT_DYN_DELETE_OBJECTS
    00 01 00 0c  #     optional packages: count 1, length 12
    f0 01 00 08  #       NOM_ATTR_POLL_PROFILE_EXT, length 8
    88 00 00 00  #         POLL_EXT_PERIOD_NU_1SEC | POLL_EXT_PERIOD_RTSA
    00 00 00 00  #         extension attributes: count 0, length 0
""")
AARQ = (
    hexb("0d ec")  # SI_CN (association request), length indicator 236
    + hexb("05 08 13 01 00 16 01 02 80 00")  # session requirements parameter
    + hexb("14 02 00 02")  # version parameter
    + hexb("c1 dc")  # presentation data, length indicator 220
    + AARQ_PRESENTATION_HEADER + hexb("48")  # BER length 72 of the user info
    + AARQ_USER_INFO + bytes(16)  # zeros closing the indefinite lengths
)


def client_info() -> MdseUserInfo:
    profile = PollProfileSupport.with_extensions(
        nom.POLL_EXT_PERIOD_NU_1SEC | nom.POLL_EXT_PERIOD_RTSA)
    return MdseUserInfo.with_profile(profile)


def test_association_request_golden_both_ways():
    request = Association(nom.SI_CN, client_info())
    assert request.serialize() == AARQ
    parsed = Association.from_pdu(parse_session_pdu(AARQ))
    assert parsed == request
    profile = parsed.user_info.poll_profile()
    assert profile is not None
    assert profile.ext_options == nom.POLL_EXT_PERIOD_NU_1SEC | nom.POLL_EXT_PERIOD_RTSA


def test_association_keeps_a_long_form_ber_length():
    # [MDPNP] ASNLength writes 128 as 82 00 80: the form is kept for an exact round trip.
    info = MdseUserInfo(options=(Ava(1, bytes(128 - 32)),))  # 5 words, 2 lists, 1 head
    assert len(info.serialize()) == 128
    pdu = Association(nom.SI_AC, info).pdu()
    assert b"\x02\x01\x02\x81\x82\x00\x80" in pdu.presentation
    again = Association.from_pdu(SessionPdu.parse(pdu.serialize()))
    assert again.length_octets == 2 and again.serialize() == pdu.serialize()


@pytest.mark.parametrize(
    ("pdu", "golden"),
    [
        (release_request(), "09 18 c1 16  61 80 30 80 02 01 01 a0 80 62 80 80 01 00"
                            " 00 00 00 00  00 00 00 00"),
        (release_response(), "0a 18 c1 16  61 80 30 80 02 01 01 a0 80 63 80 80 01 00"
                             " 00 00 00 00  00 00 00 00"),
        (abort(), "19 2e 11 01 03 c1 29  a0 80 a0 80 30 80 02 01 01 06 02 51 01 00 00"
                  " 00 00 61 80 30 80 02 01 01 a0 80 64 80 80 01 01 00 00 00 00 00 00"
                  " 00 00 00 00"),
        (refuse(0), "0c 03 32 01 00"),  # a refuse reason and no presentation data
    ],
    ids=["release-request", "release-response", "abort", "refuse"],
)
def test_session_pdus_golden_both_ways(pdu: SessionPdu, golden: str):
    data = bytes.fromhex(golden)
    assert pdu.serialize() == data
    assert parse_session_pdu(data) == pdu
    assert parse_message(data) == pdu


def test_length_indicator_long_form():
    pdu = SessionPdu(nom.SI_CN, (), bytes(300))
    data = pdu.serialize()
    assert data[:4] == b"\x0d\xff\x01\x30"  # FF + 16 bits: 304 = C1 + FF 01 2C + 300
    assert data[4:8] == b"\xc1\xff\x01\x2c"
    assert SessionPdu.parse(data) == pdu
    with pytest.raises(FrameError, match="short form"):
        SessionPdu.parse(b"\x0d\xff\x00\x03\x32\x01\x00")


# -- remote operations and polls -----------------------------------------------------------

EXT_POLL_NUMERICS = hexb("""
    e1 00 00 02  # data SPDU, context 2
    00 01 00 28  # ROIV_APDU, length 40
    00 07        # invoke id 7
    00 07        # CMD_CONFIRMED_ACTION
    00 22        # length 34
    00 21 00 00 00 00  # the MDS, context 0, handle 0
    00 00 00 00  # scope
    f1 3b        # action NOM_ACT_POLL_MDIB_DATA_EXT
    00 14        # length 20
    00 05        # poll number 5
    00 01 00 06  # polled type: NOM_PART_OBJ, NOM_MOC_VMO_METRIC_NU
    00 00        # attribute group: all
    00 01 00 08  # poll attributes: count 1, length 8
    f1 3e 00 04 00 07 53 00  # NOM_ATTR_TIME_PD_POLL: 480000 x 1/8 ms = 60 s
""")


def test_extended_poll_request_golden_both_ways():
    request = PollRequest(5, nom.NOM_MOC_VMO_METRIC_NU, 0, True,
                          (Ava(nom.NOM_ATTR_TIME_PD_POLL, bytes.fromhex("00075300")),))
    assert request.invoke(7).serialize() == EXT_POLL_NUMERICS
    message = parse_message(EXT_POLL_NUMERICS)
    assert isinstance(message, DataMessage) and isinstance(message.apdu, Invoke)
    action = ActionArgument.parse(message.apdu.argument)
    assert PollRequest.parse(action.data, extended=True) == request
    assert request.period_ticks == 480000


def numeric_reply_bytes() -> bytes:
    """An extended poll reply (linked result) with SpO2, an invalid HR and NIBP."""
    return hexb("""
        e1 00 00 02  # data SPDU, context 2
        00 05 00 92  # RORLS_APDU, length 146
        01 00        # linked id: RORLS_FIRST, count 0
        00 07        # invoke id 7
        00 07        # CMD_CONFIRMED_ACTION
        00 8a        # length 138
        00 21 00 00 00 00  # the MDS
        f1 3b        # NOM_ACT_POLL_MDIB_DATA_EXT
        00 80        # length 128
        00 05        # poll number 5
        00 00        # sequence number 0
        00 00 1f 40  # relative time 8000 (1 s)
        20 23 11 14 22 13 20 00  # absolute time 2023-11-14 22:13:20.00
        00 01 00 06  # NOM_PART_OBJ, NOM_MOC_VMO_METRIC_NU
        00 00        # attribute group
        00 01 00 66  # poll info list: 1 context, 102 bytes
        00 00        #   context id 0
        00 03 00 60  #   3 objects, 96 bytes
        00 10        #     handle 0x10
        00 01 00 0e  #     1 attribute, 14 bytes
        09 50 00 0a  #       NOM_ATTR_NU_VAL_OBS, 10 bytes
        4b b8        #         NOM_PULS_OXIM_SAT_O2
        00 00        #         state: valid
        02 20        #         NOM_DIM_PERCENT
        00 00 00 62  #         FLOAT 98
        00 11        #     handle 0x11
        00 01 00 0e
        09 50 00 0a
        41 82        #         NOM_ECG_CARD_BEAT_RATE
        80 00        #         state: MS_INVALID
        0a a0        #         NOM_DIM_BEAT_PER_MIN
        00 7f ff ff  #         FLOAT NaN
        00 12        #     handle 0x12: NIBP
        00 02 00 32  #     2 attributes, 50 bytes
        09 4b 00 22  #       NOM_ATTR_NU_CMPD_VAL_OBS, 34 bytes
        00 03 00 1e  #         3 values, 30 bytes
        4a 05 00 00 0f 20 00 00 00 78  # NOM_PRESS_BLD_NONINV_SYS, mmHg, 120
        4a 06 00 00 0f 20 00 00 00 4e  # NOM_PRESS_BLD_NONINV_DIA, mmHg, 78
        4a 07 00 00 0f 20 00 00 00 5c  # NOM_PRESS_BLD_NONINV_MEAN, mmHg, 92
        09 90 00 08  #       NOM_ATTR_TIME_STAMP_ABS, 8 bytes
        20 23 11 14 22 08 20 00  # measured 22:08:20, 5 minutes earlier
    """)


def numeric_reply() -> PollReply:
    def nu(physio: int, state: int, unit: int, raw: int) -> Ava:
        value = NuObsValue(physio, state, unit, Float.from_raw(raw)).serialize()
        return Ava(nom.NOM_ATTR_NU_VAL_OBS, value)

    nibp = serialize_compound_numeric(
        NuObsValue(p, 0, nom.NOM_DIM_MMHG, Float(0, v))
        for p, v in ((nom.NOM_PRESS_BLD_NONINV_SYS, 120), (nom.NOM_PRESS_BLD_NONINV_DIA, 78),
                     (nom.NOM_PRESS_BLD_NONINV_MEAN, 92)))
    objects = (
        ObservationPoll(0x10, (nu(nom.NOM_PULS_OXIM_SAT_O2, 0, nom.NOM_DIM_PERCENT, 98),)),
        ObservationPoll(0x11, (nu(nom.NOM_ECG_CARD_BEAT_RATE, nom.MS_INVALID,
                                  nom.NOM_DIM_BEAT_PER_MIN, 0x7FFFFF),)),
        ObservationPoll(0x12, (Ava(nom.NOM_ATTR_NU_CMPD_VAL_OBS, nibp),
                               Ava(nom.NOM_ATTR_TIME_STAMP_ABS,
                                   bytes.fromhex("20 23 11 14 22 08 20 00")))),
    )
    return PollReply(5, 8000, BCD_T0, nom.NOM_MOC_VMO_METRIC_NU, ((0, objects),))


def test_poll_reply_golden_both_ways():
    data = numeric_reply_bytes()
    message = numeric_reply().result(7, (nom.RORLS_FIRST, 0))
    assert message.serialize() == data
    parsed = parse_message(data)
    assert parsed == message
    assert isinstance(parsed, DataMessage) and isinstance(parsed.apdu, LinkedResult)


def test_error_and_set_golden_both_ways():
    error = hexb("e1 00 00 02  00 03 00 06  00 09  00 09  00 00")  # ROER, NO_SUCH_ACTION
    assert parse_message(error) == DataMessage(Error(9, nom.ERR_NO_SUCH_ACTION))
    assert DataMessage(Error(9, nom.ERR_NO_SUCH_ACTION)).serialize() == error
    setting = hexb("""
        e1 00 00 02  00 01 00 26  # ROIV, length 38
        00 02 00 05 00 20         # invoke 2, CMD_CONFIRMED_SET, length 32
        00 21 00 00 00 00 00 00 00 00  # the MDS, scope 0
        00 01 00 12               # modification list: 1 entry, 18 bytes
        00 00                     #   MODIFY_REPLACE
        f2 3a 00 0c               #   NOM_ATTR_POLL_RTSA_PRIO_LIST, 12 bytes
        00 02 00 08 00 02 01 02 00 02 4b b4  # ECG II and pleth labels
    """)
    labels = bytes.fromhex("00 02 00 08 00 02 01 02 00 02 4b b4")
    arg = SetArgument(((nom.MODIFY_REPLACE, Ava(nom.NOM_ATTR_POLL_RTSA_PRIO_LIST, labels)),))
    message = DataMessage(Invoke(2, nom.CMD_CONFIRMED_SET, arg.serialize()))
    assert message.serialize() == setting
    assert parse_message(setting) == message
    assert SetArgument.parse(arg.serialize()) == arg


def test_truncated_or_padded_messages_are_rejected():
    data = numeric_reply_bytes()
    with pytest.raises(FrameError):
        parse_message(data[:-1])
    with pytest.raises(FrameError):
        parse_message(data + b"\x00")
    with pytest.raises(FrameError):
        parse_message(b"\x42\x00")  # no such session id


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "special"),
    [
        (0x00000062, 98.0, None),
        (0xFF00016E, 36.6, None),  # exponent -1, mantissa 366
        (0xFD009FFB, 40.955, None),  # exponent -3
        (0xFEFFF000, -40.96, None),  # exponent -2, mantissa -4096
        (0xFEFE7960, -1000.0, None),  # exponent -2, mantissa -100000
        (0x02000003, 300.0, None),  # positive exponent
        (0x007FFFFF, None, "NaN"),
        (0x00800000, None, "NRes"),
        (0x007FFFFE, None, "+INF"),
        (0x00800002, None, "-INF"),
        (0x00800001, None, "reserved"),
        (0xFF7FFFFF, None, "NaN"),  # special whatever the exponent
    ],
)
def test_float_type(raw: int, value: float | None, special: str | None):
    f = Float.from_raw(raw)
    assert f.value == value
    assert f.special == special
    assert f.raw == raw
    assert Float.parse(raw.to_bytes(4, "big")).serialize() == raw.to_bytes(4, "big")


@pytest.mark.parametrize("value", [0.0, 98.0, 36.6, -40.96, 0.005, 1234.5, -7.0, 120.25])
def test_float_encode_round_trip(value: float):
    assert Float.of(value).value == value
    assert Float.from_raw(Float.of(value).raw) == Float.of(value)


def test_float_encodes_none_and_infinity():
    assert Float.of(None).special == "NaN"
    assert Float.of(float("inf")).special == "+INF"
    assert Float.of(float("-inf")).special == "-INF"


@pytest.mark.parametrize(
    ("state", "usable", "flags"),
    [
        (0x0000, True, set()),
        (nom.MS_INVALID, False, {Flag.INVALID}),
        (nom.MS_UNAVAILABLE, False, {Flag.INVALID}),
        (nom.MS_CALIBRATION_ONGOING, False, {Flag.INVALID}),
        (nom.MS_QUESTIONABLE, True, {Flag.INVALID}),
        (nom.MS_TEST_DATA, True, {Flag.INVALID}),
        (nom.MS_DEMO_DATA, True, {Flag.INVALID}),
        (nom.MS_EARLY_INDICATION, True, {Flag.INVALID}),
        (nom.MS_VALIDATED_DATA, True, set()),
        (nom.MS_MSMT_ONGOING, True, {Flag.MEASURING}),
        (nom.MS_MSMT_STATE_IN_ALARM, True, {Flag.OUT_OF_LIMIT}),
        (nom.MS_MSMT_STATE_AL_INHIBITED, True, set()),
        (nom.MS_INVALID | nom.MS_MSMT_STATE_IN_ALARM, False, {Flag.INVALID, Flag.OUT_OF_LIMIT}),
    ],
)
def test_measurement_state_bits(state: int, usable: bool, flags: set[str]):
    assert decode.state_flags(state) == (usable, flags)


def test_absolute_time_bcd():
    t = AbsoluteTime.parse(bytes.fromhex("20 23 11 14 22 13 20 25"))
    assert t.posix() == T0 + 0.25
    assert AbsoluteTime.of(T0 + 0.25) == t
    assert AbsoluteTime.parse(b"\xff" * 8).posix() is None  # the monitor has no time
    assert AbsoluteTime.parse(bytes.fromhex("20 23 11 14 22 13 2a 00")).posix() is None
    assert AbsoluteTime.parse(bytes.fromhex("20 23 02 30 00 00 00 00")).posix() is None
    with pytest.raises(FrameError):
        AbsoluteTime.parse(b"\x20\x23")


def test_scale_range_converts_raw_samples():
    scale = ScaleRangeSpec(Float(-2, -4096), Float(-3, 40955), 0, 0x3FFF)  # 5 uV a step
    assert scale.physical(8192) == 0.0
    assert scale.physical(8392) == 1.0
    assert scale.physical(0) == -40.96
    assert scale.physical(0x4000) is None  # outside the scaled range: no clamped value
    assert scale.scaled(1.0) == 8392
    assert ScaleRangeSpec(Float(0, 0x7FFFFF), Float(0, 1), 0, 10).physical(5) is None


def test_sample_spec_masks_marks_when_asked():
    spec = SaSpec(2, 16, 14, nom.SA_EXT_VAL_RANGE)
    assert spec.unpack(b"\xe0\x01\x20\x00") == [0x2001, 0x2000]  # top 2 bits are marks
    assert SaSpec(2, 16, 14, 0).unpack(b"\xe0\x01\x20\x00") == [0xE001, 0x2000]
    with pytest.raises(FrameError):
        spec.unpack(b"\x00")


# -- the host: association handshake -------------------------------------------------------


def mds_create(invoke_id: int = 1) -> bytes:
    model = SystemModel(b"Philips", b"MP50")
    report = EventReport.mds_create((
        Ava(nom.NOM_ATTR_ID_MODEL, model.serialize()),
        Ava(nom.NOM_ATTR_TIME_ABS, BCD_T0),
        Ava(nom.NOM_ATTR_TIME_REL, (8000).to_bytes(4, "big")),
    ), event_time=8000)
    return to_frame(DataMessage(Invoke(invoke_id, nom.CMD_CONFIRMED_EVENT_REPORT,
                                       report.serialize())))


def accept() -> bytes:
    info = MdseUserInfo.with_profile(PollProfileSupport(), system_type=nom.SYST_SERVER)
    return to_frame(Association(nom.SI_AC, info))


def associated(**options: object) -> IntelliVueHostCodec:
    codec = host(**options)
    codec.start()
    codec.data_to_send()
    codec.receive_data(accept() + mds_create(), T0)
    codec.data_to_send()
    codec.events_received()
    return codec


def test_association_handshake_through_the_registry():
    codec = host()
    codec.start()
    [request] = sent_messages(codec)
    assert isinstance(request, SessionPdu) and request.si == nom.SI_CN
    assert Association.from_pdu(request).user_info == client_info()
    assert codec.state == "associating"

    codec.receive_data(accept(), T0)
    assert codec.data_to_send() == []  # nothing until the MDS create event
    assert codec.state == "waiting_mds"

    codec.receive_data(mds_create(invoke_id=42), T0)
    sent = sent_messages(codec)
    assert codec.state == "associated"
    answer = sent[0]
    assert isinstance(answer, DataMessage) and isinstance(answer.apdu, Result)
    assert answer.apdu.invoke_id == 42  # echoes the event report's invoke id
    assert answer.apdu.command_type == nom.CMD_CONFIRMED_EVENT_REPORT
    assert EventReportResult.parse(answer.apdu.result).event_type == nom.NOM_NOTI_MDS_CREAT
    setting = sent[1]
    assert isinstance(setting, DataMessage) and isinstance(setting.apdu, Invoke)
    assert setting.apdu.command_type == nom.CMD_CONFIRMED_SET  # ECG II and pleth first
    polls = [PollRequest.parse(ActionArgument.parse(m.apdu.argument).data, True)
             for m in sent[2:] if isinstance(m, DataMessage) and isinstance(m.apdu, Invoke)]
    assert [p.obj_class for p in polls] == [nom.NOM_MOC_VMO_METRIC_NU,
                                            nom.NOM_MOC_VMO_METRIC_SA_RT,
                                            nom.NOM_MOC_VMO_AL_MON]
    assert all(p.period_ticks == 60 * 8000 for p in polls)
    info = [e for e in codec.events_received() if isinstance(e, DeviceStatus)]
    assert info[-1].info["model"] == "MP50" and info[-1].info["manufacturer"] == "Philips"


def test_nibp_time_comes_from_the_numerics_time_stamp():
    codec = associated()
    codec.receive_data(to_frame(numeric_reply().result(7, (nom.RORLS_FIRST, 0))), T0 + 3600)
    obs = {e.metric: e for e in codec.events_received() if isinstance(e, Observation)}
    # Live: as old as the monitor says (reply 22:13:20 - measured 22:08:20), whatever its
    # clock: the reply arrived an hour after the monitor's clock says.
    assert obs["NIBP_SYS"].time == T0 + 3600 - 300
    assert (obs["NIBP_SYS"].value, obs["NIBP_DIA"].value, obs["NIBP_MEAN"].value) == (
        120.0, 78.0, 92.0)
    assert obs["SPO2"].time == T0 + 3600 and obs["SPO2"].value == 98.0
    assert obs["HR"].value is None and Flag.INVALID in obs["HR"].flags
    # Replay without a host clock: the monitor's own time stamp.
    replay = associated()
    replay.receive_data(to_frame(numeric_reply().result(7)), None)
    obs = {e.metric: e for e in replay.events_received() if isinstance(e, Observation)}
    assert obs["NIBP_MEAN"].time == T0 - 300 and obs["SPO2"].time == T0


def test_nibp_is_published_once_per_measurement():
    codec = associated()
    frame = to_frame(numeric_reply().result(7, (nom.RORLS_FIRST, 0)))
    codec.receive_data(frame, T0)
    codec.receive_data(frame, T0 + 1)
    metrics = [e.metric for e in codec.events_received() if isinstance(e, Observation)]
    assert metrics.count("NIBP_SYS") == 1 and metrics.count("SPO2") == 2


def test_host_counts_bad_frames_and_keeps_decoding():
    codec = associated()
    good = to_frame(numeric_reply().result(7, (nom.RORLS_FIRST, 0)))
    bad = bytearray(good)
    bad[40] ^= 0xFF
    codec.receive_data(b"\x00\x13garbage" + bytes(bad) + good, T0)
    assert codec.frames_bad == 2 and codec.bytes_discarded > 9
    assert any(isinstance(e, Observation) for e in codec.events_received())


@pytest.mark.parametrize(
    "reply", [refuse(), abort()], ids=["refuse", "abort"])
def test_host_associates_again_after_refuse_or_abort(reply: SessionPdu):
    codec = associated()
    codec.receive_data(to_frame(reply), T0 + 1)
    [again] = sent_messages(codec)
    assert isinstance(again, SessionPdu) and again.si == nom.SI_CN
    assert codec.state == "associating"
    status = [e for e in codec.events_received() if isinstance(e, DeviceStatus)]
    assert status and status[-1].info["association"] in ("refused", "aborted")


def test_host_answers_a_release_by_the_monitor_and_associates_again():
    codec = associated()
    codec.receive_data(to_frame(release_request()), T0 + 1)
    sent = sent_messages(codec)
    assert [m.si for m in sent if isinstance(m, SessionPdu)] == [nom.SI_DN, nom.SI_CN]


def test_host_stops_asking_at_once_after_repeated_refusals():
    codec = host()
    codec.start()
    codec.data_to_send()
    for i in range(4):
        codec.receive_data(to_frame(refuse()), T0 + i)
    assert codec.state == "idle"
    codec.data_to_send()
    codec.receive_data(b"\x00", T0 + 5)  # any byte lets time pass: not yet
    assert sent_messages(codec) == []
    codec.receive_data(b"\x00", T0 + 20)
    assert [m.si for m in sent_messages(codec) if isinstance(m, SessionPdu)] == [nom.SI_CN]


def test_host_sends_keepalive_and_renews_a_finished_poll():
    codec = associated()
    # Invokes: 1 the wave priority list, 2 numerics, 3 waves, 4 alarms. Each poll
    # replies (a linked result), so none has stalled; only the keep-alive is due.
    replies = b"".join(to_frame(PollReply(n, 8000, BCD_T0, obj, ()).result(n + 1, (1, 0)))
                       for n, obj in ((1, nom.NOM_MOC_VMO_METRIC_NU),
                                      (2, nom.NOM_MOC_VMO_METRIC_SA_RT),
                                      (3, nom.NOM_MOC_VMO_AL_MON)))
    codec.receive_data(replies, T0 + KEEPALIVE_S + 0.1)
    [keepalive] = sent_messages(codec)
    assert isinstance(keepalive, DataMessage) and isinstance(keepalive.apdu, Invoke)
    action = ActionArgument.parse(keepalive.apdu.argument)
    assert action.action_type == nom.NOM_ACT_POLL_MDIB_DATA  # a single poll
    # The numerics poll (invoke 2) ends with a plain result: it is asked again at once.
    codec.receive_data(to_frame(PollReply(1, 8000, BCD_T0, nom.NOM_MOC_VMO_METRIC_NU,
                                          ()).result(2)), T0 + 6)
    [renewed] = sent_messages(codec)
    assert isinstance(renewed, DataMessage) and isinstance(renewed.apdu, Invoke)
    poll = PollRequest.parse(ActionArgument.parse(renewed.apdu.argument).data, True)
    assert poll.obj_class == nom.NOM_MOC_VMO_METRIC_NU


def test_host_close_queues_the_release_request():
    codec = associated()
    codec.close()
    assert sent_messages(codec) == [release_request()]
    assert codec.state == "released"


# -- the host: alarms, waves, CO2 ----------------------------------------------------------


def alarm_reply(patient: list[DevAlarmEntry], technical: list[DevAlarmEntry]) -> bytes:
    obj = ObservationPoll(1, (
        Ava(nom.NOM_ATTR_AL_MON_P_AL_LIST, serialize_alarm_list(patient)),
        Ava(nom.NOM_ATTR_AL_MON_T_AL_LIST, serialize_alarm_list(technical)),
    ))
    reply = PollReply(3, 8000, BCD_T0, nom.NOM_MOC_VMO_AL_MON, ((0, (obj,)),))
    return to_frame(reply.result(4, (nom.RORLS_FIRST, 0)))


def entry(source: int, code: int, alarm_type: int, text: str) -> DevAlarmEntry:
    return DevAlarmEntry(source, code, alarm_type, 0, nom.NOM_MOC_VMO_METRIC_NU, 0, 0x10,
                         nom.STR_ALMON_INFO, StrAlMonInfo(0, 0, 0, 0, text).serialize())


def test_monitor_alarms_flag_the_values():
    codec = associated()
    low = entry(nom.NOM_PULS_OXIM_SAT_O2, nom.NOM_EVT_LO, nom.MED_PRI_P_AL, "SpO2 LOW")
    leads = entry(nom.NOM_ECG_ELEC_POTL_II, nom.NOM_EVT_LEADS_OFF, nom.MED_PRI_T_AL,
                  "LEADS OFF")
    codec.receive_data(alarm_reply([low], [leads]), T0)
    [status] = codec.events_received()
    assert isinstance(status, DeviceStatus)
    assert status.info["device_alarms"] == ["SpO2 LOW (medium)", "LEADS OFF (medium)"]
    codec.receive_data(to_frame(numeric_reply().result(7, (nom.RORLS_FIRST, 0))), T0)
    obs = {e.metric: e for e in codec.events_received() if isinstance(e, Observation)}
    assert obs["SPO2"].flags == {Flag.OUT_OF_LIMIT, Flag.DEVICE_ALARM}
    assert obs["HR"].flags == {Flag.INVALID, Flag.SENSOR_DISCONNECT, Flag.DEVICE_ALARM}
    assert obs["NIBP_SYS"].flags == {Flag.DEVICE_ALARM}
    codec.receive_data(alarm_reply([], []), T0 + 1)
    [cleared] = codec.events_received()
    assert isinstance(cleared, DeviceStatus) and cleared.info["device_alarms"] == []


def wave_reply(samples: bytes, state: int = 0, period: int = 16,
               unit: int = nom.NOM_DIM_MILLI_VOLT) -> bytes:
    spec = SaSpec(len(samples) // 2, 16, 14, nom.SA_STATIC_SCALE | nom.SA_EXT_VAL_RANGE)
    scale = ScaleRangeSpec(Float(-2, -4096), Float(-3, 40955), 0, 0x3FFF)
    obj = ObservationPoll(0x20, (
        Ava(nom.NOM_ATTR_SA_SPECN, spec.serialize()),
        Ava(nom.NOM_ATTR_SCALE_SPECN_I16, scale.serialize()),
        Ava(nom.NOM_ATTR_TIME_PD_SAMP, period.to_bytes(4, "big")),
        Ava(nom.NOM_ATTR_UNIT_CODE, unit.to_bytes(2, "big")),
        Ava(nom.NOM_ATTR_SA_VAL_OBS,
            SaObsValue(nom.NOM_ECG_ELEC_POTL_II, state, samples).serialize()),
    ))
    reply = PollReply(2, 8000, BCD_T0, nom.NOM_MOC_VMO_METRIC_SA_RT, ((0, (obj,)),))
    return to_frame(reply.result(3, (nom.RORLS_FIRST, 0)))


def test_ecg_wave_in_millivolts_from_the_scale():
    codec = associated()
    # 8192 is 0 mV, 8392 is 1 mV; E000 is 8192 with both mark bits set (masked off).
    codec.receive_data(wave_reply(bytes.fromhex("20 00 20 c8 e0 00 1f 38")), T0 + 1)
    [wave] = codec.events_received()
    assert isinstance(wave, Waveform)
    assert (wave.metric, wave.unit, wave.sample_rate) == ("ECG", "mV", 500.0)
    assert wave.samples == (0.0, 1.0, 0.0, -1.0)
    assert wave.time == T0 + 1 - 4 / 500  # the chunk ends on arrival


def test_ecg_wave_invalid_state_and_unknown_unit():
    codec = associated()
    codec.receive_data(wave_reply(b"\x20\x00\x20\xc8", state=nom.MS_INVALID), T0)
    [wave] = codec.events_received()
    assert isinstance(wave, Waveform) and wave.samples == (None, None)
    codec.receive_data(wave_reply(b"\x20\x00", unit=nom.NOM_DIM_PERCENT), T0)
    assert codec.events_received() == []  # not a voltage: not published as ECG
    codec.receive_data(wave_reply(b"\x20\x00", unit=nom.NOM_DIM_MICRO_VOLT), T0)
    [micro] = codec.events_received()
    assert isinstance(micro, Waveform) and micro.samples == (0.0,)


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [(nom.NOM_DIM_MMHG, 38.0, 38.0), (nom.NOM_DIM_KILO_PASCAL, 5.1, 38.3),
     (nom.NOM_DIM_PERCENT, 5.0, "dropped")],
)
def test_etco2_units(unit: int, value: float, expected: object):
    nu = NuObsValue(nom.NOM_AWAY_CO2_ET, 0, unit, Float.of(value))
    obj = ObservationPoll(0x30, (Ava(nom.NOM_ATTR_NU_VAL_OBS, nu.serialize()),))
    codec = associated()
    codec.receive_data(to_frame(PollReply(1, 8000, BCD_T0, nom.NOM_MOC_VMO_METRIC_NU,
                                          ((0, (obj,)),)).result(2, (1, 0))), T0)
    obs = [e for e in codec.events_received() if isinstance(e, Observation)]
    if expected == "dropped":
        assert obs == []
    else:
        assert [(o.metric, o.value, o.unit) for o in obs] == [("ETCO2", expected, "mm[Hg]")]


def test_host_never_raises_on_malformed_attributes():
    codec = associated()
    bad = ObservationPoll(0x10, (Ava(nom.NOM_ATTR_NU_VAL_OBS, b"\x4b\xb8\x00"),))
    frame = to_frame(PollReply(1, 8000, BCD_T0, nom.NOM_MOC_VMO_METRIC_NU,
                               ((0, (bad,)),)).result(2, (1, 0)))
    codec.receive_data(frame, T0)
    assert codec.events_received() == [] and codec.frames_bad == 1


# -- the simulator -------------------------------------------------------------------------


def exchange(codec: IntelliVueHostCodec, device: IntelliVueDeviceCodec, now: float) -> None:
    for _ in range(20):
        moved = False
        for data in codec.data_to_send():
            device.receive_data(data)
            moved = True
        for data in device.data_to_send():
            codec.receive_data(data, now)
            moved = True
        if not moved:
            return


def test_simulator_refuses_when_told_and_host_reports_it():
    codec, device = host(), IntelliVueDeviceCodec(refuse_association=True)
    codec.start()
    device.advance(T0, Vitals())
    exchange(codec, device, T0)
    status = [e for e in codec.events_received() if isinstance(e, DeviceStatus)]
    assert [s.info["association"] for s in status] == ["refused"] * 4
    assert codec.state == "idle"


def test_simulator_aborts_a_silent_host_and_answers_release():
    device = IntelliVueDeviceCodec()
    codec = host()
    codec.start()
    device.advance(T0, Vitals())
    exchange(codec, device, T0)
    assert device.state == "associated"
    device.advance(T0 + 30, Vitals())  # the host said nothing for 30 s
    assert device.state == "idle"
    out = device.data_to_send()
    assert [parse_message(f.user_data) for d in out
            for f in Deframer().feed(d) if isinstance(f, SerialFrame)] == [abort()]
    for data in out:
        codec.receive_data(data, T0 + 30)  # the host associates again at once
    exchange(codec, device, T0 + 30)
    assert device.state == "associated"
    codec.close()
    exchange(codec, device, T0 + 31)
    assert device.state == "idle"
    assert release_request() in device.events_received()


def test_simulator_nibp_carries_its_measurement_time():
    device = IntelliVueDeviceCodec(start_time=T0)
    codec = host()
    codec.start()
    vitals = SCENARIOS["hypertension"].at(100.0)  # the NIBP taken at 90 s
    assert vitals.nibp_time == 90.0
    for k in range(9):
        device.advance(T0 + 100 + k * 0.25, vitals)
        exchange(codec, device, T0 + 100 + k * 0.25)
    obs = [e for e in codec.events_received()
           if isinstance(e, Observation) and e.metric.startswith("NIBP")]
    assert {o.time for o in obs} == {T0 + 90.0}
    assert len(obs) == 3  # once, although every numerics reply carries it


def test_simulator_raises_its_own_alarms():
    device = IntelliVueDeviceCodec(start_time=T0)
    codec = host()
    codec.start()
    low = Vitals(spo2=86.0)
    for k in range(6):
        device.advance(T0 + k * 0.25, low)
        exchange(codec, device, T0 + k * 0.25)
    events = codec.events_received()
    spo2 = [e for e in events if isinstance(e, Observation) and e.metric == "SPO2"]
    assert spo2 and spo2[-1].value == 86.0
    assert {Flag.OUT_OF_LIMIT, Flag.DEVICE_ALARM} <= spo2[-1].flags
    alarms = [e.info["device_alarms"] for e in events
              if isinstance(e, DeviceStatus) and "device_alarms" in e.info]
    assert alarms == [["SpO2 LOW (medium)"]]


async def test_release_is_sent_when_the_device_closes():
    port = PtyPort()
    device = IntelliVueDeviceCodec()
    sim = asyncio.create_task(run_scenario(device, SCENARIOS["stable"], port, tick=0.05))
    try:
        dev = await drivers.open_device(port.path, "intellivue")
        async with dev:
            async def first_value() -> None:
                async for event in dev:
                    if isinstance(event, Observation) and event.value is not None:
                        return

            await asyncio.wait_for(first_value(), 5000 * MS)
        for _ in range(100):
            if release_request() in device.events_received():
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the simulator never received the release request")
        assert device.state == "idle"
    finally:
        sim.cancel()
        try:
            await sim
        except asyncio.CancelledError:
            pass
        port.close()
