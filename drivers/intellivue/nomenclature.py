"""Numbers of the IntelliVue Data Export protocol: session ids, ROSE/CMIP codes, object
classes, attribute ids, physiological ids, units, alarm codes and flag bits.

The authoritative list is the Philips "IntelliVue Patient Monitor Data Export Interface
Programming Guide", which is not publicly archived. Every number here is taken from the
two open implementations that follow it and were used on real monitors; the source of
each block is named next to it:

- [VSCMP] github.com/xeonfusion/VSCaptureMP: ``Class2.cs`` (``DataConstants`` and the
  ``IntelliVue`` enumerations: commands, object classes, attribute ids, physiological ids
  ``AlertSource``, ``UnitCode``, ``AlarmCodes``, ``SaFlags``, ``WavesIDLabels``) and
  ``Class3.cs`` (serial framing and the FCS table).
- [MDPNP] github.com/mdpnp/mdpnp, ``devices/philips/src/main/java/org/mdpnp/devices/
  philips/intellivue/``: ``data/MeasurementState.java``, ``data/Float.java``,
  ``data/AlertType.java``, ``data/AlertState.java``, ``data/DevAlarmEntry.java``,
  ``data/PollProfileExtensions.java``, ``data/PollProfileSupport.java``,
  ``association/MDSEUserInfoStd.java``, ``association/AssociationProtocolImpl.java``;
  and OpenICE's adapter ``interop-lab/demo-devices/.../philips/intellivue/
  AbstractDemoIntellivue.java`` and ``RS232Adapter.java``.

This is a table module: it holds numbers only, no logic.
"""

from __future__ import annotations

# -- serial frame ([VSCMP] Class2.cs DataConstants, Class3.cs; [MDPNP] RS232Adapter.java) ---

BOF = 0xC0
"""Begin of frame."""
EOF = 0xC1
"""End of frame."""
ESC = 0x7D
"""Control escape: the next byte was XORed with :data:`ESC_XOR`."""
ESC_XOR = 0x20
PROTOCOL_ID = 0x11
"""First byte of the 4-byte serial frame header: Data Export protocol."""
MSG_TYPE = 0x01
"""Second header byte: an AS3 data export message."""

# -- session layer, first byte of every message ([VSCMP] Class2.cs; [MDPNP]
#    association/AssociationMessageType.java, AssociationProtocolImpl.java) --------------

SI_CN = 0x0D
"""Association request (connect SPDU)."""
SI_AC = 0x0E
"""Association result: accepted."""
SI_RF = 0x0C
"""Association refused."""
SI_FN = 0x09
"""Release request (finish SPDU)."""
SI_DN = 0x0A
"""Release response (disconnect SPDU)."""
SI_AB = 0x19
"""Association abort."""
SI_DA = 0xE1
"""Data SPDU: a remote operation follows (``E1 00`` session id, then the context id)."""

DATA_SESSION_ID = 0xE100
DATA_CONTEXT_ID = 0x0002
"""``E1 00 00 02``: the prefix of every data message in [VSCMP]'s canned messages."""

PI_SESSION_REQUIREMENTS = 0x05
PI_VERSION = 0x14
PI_ABORT_REASON = 0x11
PI_REFUSE_REASON = 0x32
PRESENTATION_TAG = 0xC1
"""Session user data (the presentation PDU) follows: ``C1`` + length indicator."""

# -- remote operations (ROSE) and commands (CMIP) ([VSCMP] Class2.cs) ----------------------

ROIV_APDU = 1
"""Remote operation invoke."""
RORS_APDU = 2
"""Remote operation result."""
ROER_APDU = 3
"""Remote operation error."""
RORLS_APDU = 5
"""Remote operation linked result (one part of a longer or periodic result)."""

RORLS_FIRST = 1
RORLS_NOT_FIRST_NOT_LAST = 2
RORLS_LAST = 3
"""Linked-result states; after the last linked result one RORS follows ([VSCMP])."""

CMD_EVENT_REPORT = 0
CMD_CONFIRMED_EVENT_REPORT = 1
CMD_GET = 3
CMD_SET = 4
CMD_CONFIRMED_SET = 5
CMD_CONFIRMED_ACTION = 7

# Remote operation errors ([VSCMP] Class2.cs RemoteOpErrors).
ERR_NO_SUCH_OBJECT_CLASS = 0
ERR_NO_SUCH_OBJECT_INSTANCE = 1
ERR_ACCESS_DENIED = 2
ERR_NO_SUCH_ACTION = 9
ERR_PROCESSING_FAILURE = 10
ERR_INVALID_ARGUMENT_VALUE = 15

MODIFY_REPLACE = 0
"""Modify operator of a SET: replace the attribute value."""

# -- nomenclature partitions and object classes ([VSCMP] Class2.cs) ------------------------

NOM_PART_OBJ = 1
NOM_PART_SCADA = 2
NOM_PART_EVT = 3
NOM_PART_DIM = 4

NOM_MOC_VMO_METRIC_NU = 6
"""Numeric objects (HR, SpO2, NIBP...)."""
NOM_MOC_VMO_METRIC_SA_RT = 9
"""Real-time sample arrays (waves)."""
NOM_MOC_VMS_MDS = 33
"""The medical device system: the monitor itself."""
NOM_MOC_VMO_AL_MON = 54
"""The alarm monitor object: alarm lists and alert condition."""
NOM_MOC_PT_DEMOG = 42

NOM_ACT_POLL_MDIB_DATA = 3094
"""Single poll action (0x0C16)."""
NOM_ACT_POLL_MDIB_DATA_EXT = 61755
"""Extended poll action (0xF13B)."""
NOM_NOTI_MDS_CREAT = 3334
"""Event type of the MDS create event report (0x0D06)."""

# -- attribute ids ([VSCMP] Class2.cs AttributeIDs; [MDPNP] data/AttributeId.java) ---------

NOM_POLL_PROFILE_SUPPORT = 0x0001
"""Supported application profile in the association user info."""
NOM_ATTR_POLL_PROFILE_EXT = 0xF001
"""Optional package of the poll profile: extended poll options."""

NOM_ATTR_AL_MON_P_AL_LIST = 0x0902
"""Active physiological (patient) alarms: a DevAlarmList."""
NOM_ATTR_AL_MON_T_AL_LIST = 0x0904
"""Active technical alarms (INOPs): a DevAlarmList."""
NOM_ATTR_DEV_AL_COND = 0x0916
"""Device alert condition: overall alert state and highest priorities."""
NOM_ATTR_ID_BED_LABEL = 0x091E
NOM_ATTR_ID_HANDLE = 0x0921
NOM_ATTR_ID_LABEL = 0x0924
"""TextId label of a metric (32 bits, e.g. NLS_NOM_ECG_ELEC_POTL_II)."""
NOM_ATTR_ID_MODEL = 0x0928
"""SystemModel: manufacturer and model number."""
NOM_ATTR_ID_TYPE = 0x092F
NOM_ATTR_METRIC_SPECN = 0x093F
NOM_ATTR_NU_CMPD_VAL_OBS = 0x094B
"""Compound numeric observed value (NIBP systolic, diastolic and mean)."""
NOM_ATTR_NU_VAL_OBS = 0x0950
"""Numeric observed value: physio id, measurement state, unit code, FLOAT value."""
NOM_ATTR_SA_CALIB_I16 = 0x0964
NOM_ATTR_SA_CMPD_VAL_OBS = 0x0967
"""Compound sample array observed value (several leads in one object)."""
NOM_ATTR_SA_SPECN = 0x096D
"""Sample array specification: array size, sample size, significant bits, flags."""
NOM_ATTR_SA_VAL_OBS = 0x096E
"""Sample array observed value: physio id, measurement state, the samples."""
NOM_ATTR_SCALE_SPECN_I16 = 0x096F
"""Scale and range: two FLOAT absolute values and the two raw values they map to."""
NOM_ATTR_SYS_ID = 0x0984
NOM_ATTR_SYS_TYPE = 0x0986
NOM_ATTR_TIME_ABS = 0x0987
"""The monitor's date and time (AbsoluteTime), in the MDS attributes."""
NOM_ATTR_TIME_PD_SAMP = 0x098D
"""Sample period of a wave (RelativeTime, 1/8 ms)."""
NOM_ATTR_TIME_REL = 0x098F
"""The monitor's relative time (1/8 ms ticks) paired with NOM_ATTR_TIME_ABS."""
NOM_ATTR_TIME_STAMP_ABS = 0x0990
"""Absolute time stamp of a numeric: when an aperiodic value (NIBP) was measured."""
NOM_ATTR_TIME_STAMP_REL = 0x0991
NOM_ATTR_UNIT_CODE = 0x0996
NOM_ATTR_VMS_MDS_STAT = 0x09A7
NOM_ATTR_TIME_PD_POLL = 0xF13E
"""Extended poll attribute: keep sending results for this period (RelativeTime)."""
NOM_ATTR_POLL_RTSA_PRIO_LIST = 0xF23A
"""Which waves the monitor exports, as a TextIdList of labels (set by the host)."""
NOM_ATTR_POLL_NU_PRIO_LIST = 0xF239

# Attribute groups of a poll ([VSCMP] Class2.cs).
NOM_ATTR_GRP_AL_MON = 0x0801
NOM_ATTR_GRP_METRIC_VAL_OBS = 0x0803
NOM_ATTR_GRP_VMO_DYN = 0x0810
NOM_ATTR_GRP_VMO_STATIC = 0x0811

# -- physiological ids, partition SCADA ([VSCMP] Class2.cs AlertSource, ECG) ---------------

NOM_ECG_ELEC_POTL = 0x0100
NOM_ECG_ELEC_POTL_II = 0x0102
NOM_ECG_CARD_BEAT_RATE = 0x4182
"""ECG heart rate (16770)."""
NOM_PLETH_PULS_RATE = 0x4822
"""Pulse rate from the pleth (18466)."""
NOM_PRESS_BLD_NONINV = 0x4A04
NOM_PRESS_BLD_NONINV_SYS = 0x4A05
NOM_PRESS_BLD_NONINV_DIA = 0x4A06
NOM_PRESS_BLD_NONINV_MEAN = 0x4A07
NOM_PLETH = 0x4BB4
"""The pleth wave (19380)."""
NOM_PULS_OXIM_SAT_O2 = 0x4BB8
"""SpO2 (19384)."""
NOM_RESP_RATE = 0x500A
"""Respiration rate from the impedance respiration (20490)."""
NOM_AWAY_RESP_RATE = 0x5012
"""Airway respiration rate, from the CO2 measurement (20498)."""
NOM_AWAY_CO2 = 0x50AC
NOM_AWAY_CO2_ET = 0x50B0
"""End-tidal CO2 (20656)."""
NOM_AWAY_CO2_INSP_MIN = 0x50BA
"""Inspired minimum CO2 (20666)."""

# Labels (TextId) of the waves, for the RTSA priority list ([VSCMP] Class2.cs WavesIDLabels).
NLS_NOM_ECG_ELEC_POTL_II = 0x00020102
NLS_NOM_PULS_OXIM_PLETH = 0x00024BB4

# -- units, partition DIM ([VSCMP] Class2.cs UnitCode) -------------------------------------

NOM_DIM_NOS = 0
NOM_DIM_DIMLESS = 512
NOM_DIM_PERCENT = 544
NOM_DIM_BEAT_PER_MIN = 2720
NOM_DIM_RESP_PER_MIN = 2784
NOM_DIM_KILO_PASCAL = 3843
NOM_DIM_MMHG = 3872
NOM_DIM_MILLI_VOLT = 4274
NOM_DIM_MICRO_VOLT = 4275

MMHG_PER_KPA = 7.50062

# -- measurement state bits of a numeric or wave ([MDPNP] data/MeasurementState.java) -------

MS_INVALID = 0x8000
"""The source judges the data meaningless."""
MS_QUESTIONABLE = 0x4000
"""A problem exists, but the value may still be shown."""
MS_UNAVAILABLE = 0x2000
"""The signal does not allow the numeric to be derived (e.g. no breath yet)."""
MS_CALIBRATION_ONGOING = 0x1000
MS_TEST_DATA = 0x0800
"""Generated test signal: not the patient."""
MS_DEMO_DATA = 0x0400
"""The monitor runs in demonstration mode: not the patient."""
MS_VALIDATED_DATA = 0x0080
MS_EARLY_INDICATION = 0x0040
"""An early estimate (NIBP sets it once systolic is known, before mean and diastolic)."""
MS_MSMT_ONGOING = 0x0020
"""A new aperiodic measurement (NIBP) is under way."""
MS_MSMT_STATE_IN_ALARM = 0x0002
"""The numeric has an active alarm condition."""
MS_MSMT_STATE_AL_INHIBITED = 0x0001
"""Alarms are switched off for the numeric."""

# -- FLOAT-Type special mantissas ([MDPNP] data/Float.java; [VSCMP] FLOATTYPE_NAN) -----------

FLOAT_NAN = 0x7FFFFF
"""Not a number: no value."""
FLOAT_NRES = -0x800000
"""Not at this resolution (0x800000 as a signed 24-bit mantissa)."""
FLOAT_POS_INF = 0x7FFFFE
FLOAT_NEG_INF = -0x7FFFFE
"""0x800002 as a signed 24-bit mantissa."""
FLOAT_RESERVED = -0x7FFFFF
"""0x800001, reserved by IEEE 11073-20601."""

# -- sample array flags ([VSCMP] Class2.cs SaFlags) ----------------------------------------

SA_SMOOTH_CURVE = 0x8000
SA_DELAYED_CURVE = 0x4000
SA_STATIC_SCALE = 0x2000
SA_EXT_VAL_RANGE = 0x1000
"""The bits above ``significant_bits`` carry marks (pace pulse...): mask them off."""

# -- alarms ([MDPNP] data/AlertType.java, AlertState.java, DevAlarmEntry.java;
#    [VSCMP] Class2.cs AlarmCodes, MonitorAlertType, AlarmInfo) -------------------------------

NO_ALERT = 0x0000
LOW_PRI_T_AL = 0x0001
MED_PRI_T_AL = 0x0002
HI_PRI_T_AL = 0x0004
LOW_PRI_P_AL = 0x0100
MED_PRI_P_AL = 0x0200
HI_PRI_P_AL = 0x0400

AL_INHIBITED = 0x8000
AL_SUSPENDED = 0x4000
AL_LATCHED = 0x2000
AL_SILENCED_RESET = 0x1000
AL_NEW_ALERT = 0x0008

GEN_ALMON_INFO = 513
STR_ALMON_INFO = 516
"""Alarm entry info with a text string (the monitor's alarm message)."""

NOM_EVT_DISCONN = 22
NOM_EVT_HI = 40
NOM_EVT_LO = 62
NOM_EVT_NOISY = 74
NOM_EVT_LEAD_DISCONN = 268
NOM_EVT_LEADS_OFF = 274
NOM_EVT_SENSOR_DISCONN = 308
NOM_EVT_SENSOR_MALF = 310
NOM_EVT_SENSOR_PROB = 312
NOM_EVT_MSMT_DISCONN = 352
NOM_EVT_WAVE_ARTIF_ERR = 432
NOM_EVT_APNEA = 3072
NOM_EVT_DESAT = 3246
NOM_EVT_ADVIS_SENSOR_CHK = 6696

# -- association user info ([MDPNP] association/MDSEUserInfoStd.java, data/PollProfile*) ----

MDDL_VERSION1 = 0x80000000
NOMEN_VERSION = 0x40000000
SYST_CLIENT = 0x80000000
SYST_SERVER = 0x00800000
HOT_START = 0x80000000
WARM_START = 0x40000000
COLD_START = 0x20000000
POLL_PROFILE_REV_0 = 0x80000000
P_OPT_DYN_CREATE_OBJECTS = 0x40000000
P_OPT_DYN_DELETE_OBJECTS = 0x20000000
POLL_EXT_PERIOD_NU_1SEC = 0x80000000
POLL_EXT_PERIOD_NU_AVG_12SEC = 0x40000000
POLL_EXT_PERIOD_NU_AVG_60SEC = 0x20000000
POLL_EXT_PERIOD_NU_AVG_300SEC = 0x10000000
POLL_EXT_PERIOD_RTSA = 0x08000000
POLL_EXT_ENUM = 0x04000000
POLL_EXT_NU_PRIO_LIST = 0x02000000
POLL_EXT_DYN_MODALITIES = 0x01000000

# -- time ---------------------------------------------------------------------------------

RELATIVE_TICKS_PER_S = 8000
"""RelativeTime counts 1/8 ms (125 µs) ([VSCMP] Class3.cs GetAbsoluteTimeFromRelativeTimestamp)."""
