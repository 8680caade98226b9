"""Admissions in: HL7 v2 ADT over MLLP creates and updates patients, so a nurse picks the
patient instead of typing them (a supervised part of the service).

- A01 (admit), A04 (register), A08 (update): the patient with the PID-3 identifier is
  created or updated from PID-5 (family^given), PID-7 (birth date), PID-8 (sex, F or M)
  and, when an OBX carries them, the weight (LOINC 29463-7 or 3141-9, MDC 188736
  MDC_MASS_BODY_ACTUAL; kg, g or lb) and height (LOINC 8302-2, MDC 188740
  MDC_LEN_BODY_ACTUAL; cm, m or in). Changes are audited like a person's, by ``hl7-adt``.
- A03 (discharge): recorded (audit, and a note on the session when the patient is in a
  bed). The bed is **not** discharged: a central station follows the nurse, who discharges
  when the patient leaves the bed.

Every message is acknowledged: ``AA`` when it was applied, ``AE`` with a short reason
when its content cannot be (no identifier, a name or date the records refuse), ``AR`` for
another message type or trigger. PID-3 takes the repetition typed ``MR`` (else the first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.hl7 import frames
from drivers.hl7.frames import BadBlock, Message, MllpDeframer, Segment, build_ack, wrap
from monitor.domain.errors import FrameError, MonitorError
from monitor.records import audit, charting, patients, sessions
from monitor.storage.database import Store

_LOGGER = logging.getLogger(__name__)

ADT_USER = "hl7-adt"
"""Who the records say made the changes an ADT message brings."""
UPSERT = frozenset({"A01", "A04", "A08"})
DISCHARGE = "A03"
_WEIGHT_CODES = frozenset({"29463-7", "3141-9", "188736", "MDC_MASS_BODY_ACTUAL"})
_HEIGHT_CODES = frozenset({"8302-2", "188740", "MDC_LEN_BODY_ACTUAL"})
_TO_KG = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237, "lb": 0.45359237, "263875": 1.0,
          "MDC_DIM_KILO_G": 1.0}
_TO_CM = {"cm": 1.0, "m": 100.0, "[in_i]": 2.54, "in": 2.54, "263441": 1.0,
          "MDC_DIM_CENTI_M": 1.0}


class AdtRefused(Exception):
    """A message that cannot be applied: its ACK code and a reason (no patient data)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True, slots=True)
class AdtMessage:
    """What an ADT message says about its patient."""

    trigger: str
    control_id: str
    identifier: str
    fields: dict[str, Any] = field(default_factory=dict)
    time: float | None = None


def _component(seg: Segment, n: int, c: int, enc: frames.Encoding, sub: int = 1) -> str:
    value = seg.component(n, c, enc)
    return value.split(enc.subcomponent)[sub - 1] if enc.subcomponent else value


def _identifier(pid: Segment, enc: frames.Encoding) -> str:
    reps = pid.field(3).split(enc.repetition) if enc.repetition else [pid.field(3)]
    ids = [r.split(enc.component) for r in reps if r]
    chosen = next((c for c in ids if len(c) > 4 and c[4] == "MR"), ids[0] if ids else [""])
    return enc.unescape(chosen[0]).strip()


def _birth_date(text: str) -> str | None:
    digits = text[:8]
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return None


def _measure(message: Message) -> dict[str, float]:
    """Weight (kg) and height (cm) from the message's OBX, when present."""
    enc = message.encoding
    out: dict[str, float] = {}
    for obx in message.all("OBX"):
        codes = {obx.component(3, 1, enc), obx.component(3, 2, enc)}
        unit = obx.component(6, 1, enc)
        try:
            value = float(obx.component(5, 1, enc))
        except ValueError:
            continue
        if codes & _WEIGHT_CODES and unit in _TO_KG:
            out["weight_kg"] = round(value * _TO_KG[unit], 1)
        elif codes & _HEIGHT_CODES and unit in _TO_CM:
            out["height_cm"] = round(value * _TO_CM[unit], 1)
    return out


def read_adt(message: Message) -> AdtMessage:
    """The patient an ADT message describes (pure).

    Raises:
        AdtRefused: ``AR`` for another message type or trigger, ``AE`` for a message
            without PID or without a PID-3 identifier.
    """
    kind, trigger = message.message_type
    if kind != "ADT" or trigger not in UPSERT | {DISCHARGE}:
        raise AdtRefused(frames.ACK_REJECT,
                         f"unsupported message {kind}^{trigger}: ADT A01, A04, A08, A03 only")
    pids = message.all("PID")
    if not pids:
        raise AdtRefused(frames.ACK_ERROR, "no PID segment")
    enc, pid = message.encoding, pids[0]
    identifier = _identifier(pid, enc)
    if not identifier:
        raise AdtRefused(frames.ACK_ERROR, "PID-3 has no patient identifier")
    fields: dict[str, Any] = {}
    family, given = _component(pid, 5, 1, enc), pid.component(5, 2, enc)
    if family:
        fields["family_name"] = family
    if given:
        fields["given_name"] = given
    birth = _birth_date(pid.component(7, 1, enc))
    if birth:
        fields["birth_date"] = birth
    sex = pid.component(8, 1, enc).upper()
    if sex in ("F", "M"):
        fields["sex"] = sex
    fields.update(_measure(message))
    evn = message.all("EVN")
    when = frames.parse_ts(evn[0].component(2, 1, enc)) if evn else None
    if when is None:
        when = frames.parse_ts(message.msh.component(7, 1, enc))
    return AdtMessage(trigger, message.control_id, identifier, fields, when)


class AdtListener:
    """Listens on ``host:port`` for ADT messages over MLLP and applies them.

    Args:
        store: the records.
        host: address to bind (loopback by default in the unit file).
        port: port (0 picks a free one: see :attr:`address`).
        charted: called with a bed whose session got a note (screens refresh it).
    """

    def __init__(self, store: Store, host: str, port: int,
                 charted: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.charted = charted or (lambda _bed: None)
        self.address: tuple[str, int] | None = None
        self.received = 0
        self.refused = 0

    async def run(self) -> None:
        """Serve until cancelled."""
        server = await asyncio.start_server(self._connection, self.host, self.port)
        self.address = server.sockets[0].getsockname()[:2]
        _LOGGER.info("ADT listener on %s:%d", *self.address)
        async with server:
            await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        deframer = MllpDeframer()
        try:
            while data := await reader.read(65536):
                for block in deframer.feed(data):
                    if isinstance(block, BadBlock):
                        continue
                    ack = await self.handle(block)
                    if ack is not None:
                        writer.write(wrap(ack.encode()))
                        await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(self, payload: bytes) -> Message | None:
        """Apply one MLLP payload; its ACK (None when it has no readable MSH)."""
        self.received += 1
        try:
            message = Message.decode(payload)
        except FrameError:
            control = frames.control_id_of(payload)
            self.refused += 1
            return build_ack(control, frames.ACK_ERROR, None, time.time(),
                             "not an HL7 message") if control else None
        try:
            adt = read_adt(message)
            await self.apply(adt)
        except AdtRefused as exc:
            self.refused += 1
            _LOGGER.warning("ADT message %s refused: %s", message.control_id, exc)
            return build_ack(message.control_id, exc.code, message, time.time(), str(exc))
        except MonitorError as exc:  # the records refuse a field: the reason names it
            self.refused += 1
            _LOGGER.warning("ADT message %s refused: %s", message.control_id, exc.field)
            return build_ack(message.control_id, frames.ACK_ERROR, message, time.time(),
                             f"refused by the records: {exc.field or 'content'}")
        return build_ack(message.control_id, frames.ACK_ACCEPT, message, time.time())

    async def apply(self, adt: AdtMessage) -> None:
        """Create, update or note the patient.

        Raises:
            AdtRefused: a new patient without a family name.
            MonitorError: a field the records refuse (InvalidValue naming it).
        """
        now = time.time()
        patient = await patients.by_identifier(self.store, adt.identifier)
        if adt.trigger in UPSERT:
            if patient is None:
                if "family_name" not in adt.fields:
                    raise AdtRefused(frames.ACK_ERROR, "PID-5 has no family name")
                await patients.create(self.store, {"identifier": adt.identifier,
                                                   **adt.fields}, ADT_USER, now, source="adt")
            else:
                await patients.update_patient(self.store, patient.id, adt.fields, ADT_USER,
                                              now)
            return
        admission = None if patient is None else await sessions.in_bed(self.store, patient.id)
        await audit.audit(self.store, now, ADT_USER, "adt_discharge",
                          None if admission is None else admission.bed_id,
                          control_id=adt.control_id, event_time=adt.time,
                          patient_id=None if patient is None else patient.id,
                          session_id=None if admission is None else admission.id)
        if admission is not None:
            await charting.chart(self.store, admission, "note", {
                "note": "ADT A03: the hospital system discharged the patient; the bed stays "
                        "until a nurse discharges it"}, ADT_USER, adt.time or now, now)
            self.charted(admission.bed_id)
