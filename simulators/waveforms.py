"""Synthetic ECG and plethysmogram, beat-locked to a (changing) heart rate.

The synthesizers keep their beat phase between calls, so consecutive chunks join without
a seam whatever the chunk size. They are deterministic: no randomness, no clock.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

# ECG beat as a sum of Gaussian waves: (position in the beat 0..1, width, amplitude mV).
_ECG_WAVES = (
    (0.16, 0.025, 0.12),  # P
    (0.27, 0.008, -0.10),  # Q
    (0.29, 0.010, 1.10),  # R
    (0.31, 0.009, -0.25),  # S
    (0.55, 0.045, 0.30),  # T
)


class _BeatSynth(ABC):
    def __init__(self, sample_rate: float) -> None:
        if sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        self.sample_rate = sample_rate
        self._phase = 0.0  # position within the current beat, 0..1

    def _phases(self, n: int, rate_per_min: float) -> np.ndarray:
        step = max(rate_per_min, 1.0) / 60.0 / self.sample_rate
        phases = (self._phase + step * np.arange(n)) % 1.0
        self._phase = (self._phase + step * n) % 1.0
        return phases

    @abstractmethod
    def _shape(self, phases: np.ndarray) -> np.ndarray:
        """The waveform value at each beat phase (0..1)."""

    def next(self, n: int, rate_per_min: float | None) -> list[float]:
        """The next ``n`` samples at ``rate_per_min`` beats per minute (flat 0 if None)."""
        if n <= 0:
            return []
        if rate_per_min is None or rate_per_min <= 0:
            return [0.0] * n
        return [round(float(x), 4) for x in self._shape(self._phases(n, rate_per_min))]


class EcgSynth(_BeatSynth):
    """Lead II-like ECG in mV."""

    def _shape(self, phases: np.ndarray) -> np.ndarray:
        out = np.zeros_like(phases)
        for centre, width, amp in _ECG_WAVES:
            out += amp * np.exp(-0.5 * ((phases - centre) / width) ** 2)
        return out


class PlethSynth(_BeatSynth):
    """Plethysmogram scaled 0..1: systolic upstroke, dicrotic notch, diastolic run-off."""

    def _shape(self, phases: np.ndarray) -> np.ndarray:
        systolic = np.exp(-0.5 * ((phases - 0.25) / 0.07) ** 2)
        dicrotic = 0.35 * np.exp(-0.5 * ((phases - 0.52) / 0.08) ** 2)
        baseline = 0.08 * np.cos(2 * math.pi * phases)
        return np.clip(0.1 + 0.8 * (systolic + dicrotic) / 1.1 + baseline, 0.0, 1.0)
