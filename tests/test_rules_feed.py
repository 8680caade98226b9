"""The rules live: one baseline computation for the preview, the recompute and the freeze;
alarm pictures published for the board."""

from __future__ import annotations

import pytest

from monitor.alarms.engine import RuleSet
from monitor.domain.errors import BaselineError
from monitor.domain.models import Observation
from monitor.live.bus import Bus
from monitor.live.rules_feed import PREVIEW_S, RulesFeed
from monitor.live.views import AlarmPicture

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _pre_infusion(hr_every: float, nibp: list[tuple[float, float, float]]
                  ) -> tuple[RulesFeed, Clock, float]:
    """A bed monitored for 10 minutes: HR every ``hr_every`` s, NIBP readings at the given
    (seconds after start, systolic, diastolic)."""
    clock = Clock(T0)
    feed = RulesFeed(Bus(), ["bed-1"], RuleSet.default(), clock=clock)
    feed.start_monitoring("bed-1", "nurse", T0)
    t = T0
    while t < T0 + 600:
        feed.feed(Observation.of("HR", 70 + (t - T0) % 7, t, "ecg", bed_id="bed-1"))
        t += hr_every
    for at, sys_, dia in nibp:
        for metric, value in (("NIBP_SYS", sys_), ("NIBP_DIA", dia)):
            feed.feed(Observation.of(metric, value, T0 + at, "nibp", bed_id="bed-1"))
    clock.t = T0 + 600
    return feed, clock, clock.t


READINGS = [(100, 142, 88), (300, 128, 80), (480, 126, 79), (560, 124, 78)]


@pytest.mark.parametrize(("hr_every", "expect_hr"), [(1.0, True), (30.0, False)])
def test_previewed_baseline_is_the_frozen_baseline(hr_every: float, expect_hr: bool) -> None:
    # Sparse HR (every 30 s) covers too little time to make a baseline when each sample
    # holds at most 10 s: the preview must not promise a baseline the freeze will not make.
    feed, clock, now = _pre_infusion(hr_every, READINGS)
    preview = feed.picture("bed-1").baseline
    assert preview is not None and preview.preview
    feed.start_infusion("bed-1", "nurse", now)
    frozen = feed.picture("bed-1").baseline
    assert frozen is not None and not frozen.preview
    assert (preview.hr is not None) is expect_hr
    for kind in ("hr", "bp"):
        shown, kept = getattr(preview, kind), getattr(frozen, kind)
        if shown is None:
            assert kept is None
            continue
        assert kept is not None
        assert (kept.hr, kept.systolic, kept.diastolic, kept.mean, kept.readings,
                kept.dropped, kept.method, kept.notes) == (
            shown.hr, shown.systolic, shown.diastolic, shown.mean, shown.readings,
            shown.dropped, shown.method, shown.notes)
        assert kept.confirmed_by == "nurse"


def test_recompute_uses_the_same_baseline_as_the_preview() -> None:
    feed, clock, now = _pre_infusion(1.0, READINGS)
    preview = feed.picture("bed-1").baseline
    feed.rebaseline("bed-1", "nurse", "recompute after the anxious first reading")
    recomputed = feed.picture("bed-1").baseline
    assert preview is not None and recomputed is not None
    assert preview.hr is not None and recomputed.hr is not None
    assert preview.bp is not None and recomputed.bp is not None
    assert recomputed.hr.hr == preview.hr.hr
    assert recomputed.bp.readings == preview.bp.readings
    assert recomputed.bp.reason == "recompute after the anxious first reading"


def test_recompute_without_data_is_a_baseline_error() -> None:
    feed = RulesFeed(Bus(), ["bed-1"], RuleSet.default(), clock=Clock(T0))
    feed.start_monitoring("bed-1", "nurse", T0)
    with pytest.raises(BaselineError, match="no baseline can be computed"):
        feed.rebaseline("bed-1", "nurse", "recompute")


def test_preview_is_recomputed_only_every_few_seconds() -> None:
    feed, clock, now = _pre_infusion(1.0, READINGS[:1])
    first = feed.picture("bed-1").baseline
    feed.feed(Observation.of("NIBP_SYS", 130, now, "nibp", bed_id="bed-1"))
    feed.feed(Observation.of("NIBP_DIA", 80, now, "nibp", bed_id="bed-1"))
    clock.t = now + PREVIEW_S + 3  # the reading is assembled; the preview is due again
    later = feed.picture("bed-1").baseline
    assert first is not None and later is not None and first.bp is not None
    assert later.bp is not None and later.bp.systolic != first.bp.systolic


def test_pictures_follow_alarm_changes() -> None:
    bus = Bus()
    clock = Clock(T0)
    feed = RulesFeed(bus, ["bed-1"], RuleSet.default(), clock=clock)
    sub = bus.subscribe(AlarmPicture, name="test")
    feed.start_monitoring("bed-1", "nurse", T0)
    feed.start_infusion("bed-1", "nurse", T0)
    for i in range(40):
        feed.feed(Observation.of("SPO2", 88, T0 + 1 + i, "ox", bed_id="bed-1"))
    pictures = sub.drain()
    assert pictures, "no picture published"
    with_alarm = [p for p in pictures if any(a.rule == "SPO2_LOW" for a in p.alarms)]
    assert with_alarm and with_alarm[0].events, "the onset's picture carries its event"
    assert any(e.event == "onset" for e in with_alarm[0].events)
    # The same view is not published twice without a change.
    assert all(not a.same_view(b) or b.events for a, b in zip(pictures, pictures[1:],
                                                                strict=False))
