"""The vital signs SPU Monitor knows: short alias, IEEE 11073 MDC reference id, UCUM unit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    """One kind of measurement.

    Attributes:
        alias: short name used across the product (``HR``, ``SPO2``...).
        code: IEEE 11073-10101 reference id (``MDC_PULS_OXIM_SAT_O2``).
        unit: UCUM unit (``%``, ``/min``, ``mm[Hg]``).
        label: human label for screens.
    """

    alias: str
    code: str
    unit: str
    label: str


_METRICS = [
    Metric("HR", "MDC_ECG_HEART_RATE", "/min", "Heart rate (ECG)"),
    Metric("PR", "MDC_PULS_OXIM_PULS_RATE", "/min", "Pulse rate (SpO2)"),
    Metric("SPO2", "MDC_PULS_OXIM_SAT_O2", "%", "SpO2"),
    Metric("PI", "MDC_PULS_OXIM_PERF_REL", "%", "Perfusion index"),
    Metric("SPCO", "MDC_PULS_OXIM_SAT_CO", "%", "SpCO"),
    Metric("SPMET", "MDC_PULS_OXIM_SAT_MET", "%", "SpMet"),
    Metric("PVI", "MDC_PULS_OXIM_PLETH_VAR_INDEX", "%", "Pleth variability index"),
    Metric("NIBP_SYS", "MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]", "NIBP systolic"),
    Metric("NIBP_DIA", "MDC_PRESS_BLD_NONINV_DIA", "mm[Hg]", "NIBP diastolic"),
    Metric("NIBP_MEAN", "MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]", "NIBP mean"),
    Metric("NIBP_PR", "MDC_PULS_RATE_NON_INV", "/min", "NIBP pulse rate"),
    Metric("RR", "MDC_RESP_RATE", "/min", "Respiratory rate"),
    Metric("ETCO2", "MDC_AWAY_CO2_ET", "mm[Hg]", "EtCO2"),
    Metric("FICO2", "MDC_AWAY_CO2_INSP_MIN", "mm[Hg]", "FiCO2 (inspired minimum)"),
    Metric("AWRR", "MDC_AWAY_RESP_RATE", "/min", "Respiration rate (airway)"),
    Metric("ECG", "MDC_ECG_ELEC_POTL_II", "mV", "ECG lead II"),
    Metric("PLETH", "MDC_PULS_OXIM_PLETH", "1", "Plethysmogram"),
]

METRICS: dict[str, Metric] = {m.alias: m for m in _METRICS}
"""Every known metric by alias."""

BY_CODE: dict[str, Metric] = {m.code: m for m in _METRICS}
"""Every known metric by MDC reference id."""


def metric(alias: str) -> Metric:
    """Return the metric for ``alias``.

    Raises:
        KeyError: the alias is unknown.
    """
    return METRICS[alias]
