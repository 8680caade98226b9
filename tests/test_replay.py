"""Replay: CSV and WFDB recordings through the engine in virtual time, end to end."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import warnings

import pytest

from monitor.alarms import replay as rp
from monitor.alarms.engine import RuleSet
from tests.conftest import ROOT, recordings_dir

DATA = ROOT / "tests" / "data" / "replay"
MIMIC = "physionet/s00001/s00001-2896-10-10-00-31n"
KEYS = ["t", "rule", "priority", "event", "value"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.alarms.replay", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def lines(stdout: str) -> list[dict]:
    out = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert all(list(o) == KEYS for o in out)
    assert all(o["event"] in ("onset", "escalation", "end") for o in out)
    return out


def write(tmp_path: pathlib.Path, rows: list[str], name: str = "rec.csv") -> pathlib.Path:
    path = tmp_path / name
    path.write_text("time_s,metric,value\n" + "\n".join(rows) + "\n")
    return path


def steady(until: int, *, hr: float = 72, spo2: float = 97, start: int = 0) -> list[str]:
    rows = []
    for t in range(start, until):
        rows += [f"{t},HR,{hr}", f"{t},PR,{hr}", f"{t},SPO2,{spo2}"]
    return rows


def test_replay_cli_spo2_dip_onset_in_window() -> None:
    result = cli(str(DATA / "spo2_dip.csv"))
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    onset = [o for o in out if o["rule"] == "SPO2_LOW" and o["event"] == "onset"]
    assert len(onset) == 1 and 415.0 <= onset[0]["t"] <= 416.0
    assert onset[0] == {"t": 415.0, "rule": "SPO2_LOW", "priority": "medium",
                        "event": "onset", "value": 90.0}
    assert [o["event"] for o in out if o["rule"] == "SPO2_LOW"] == ["onset", "end"]


def spu_monitor(*args: str) -> subprocess.CompletedProcess[str]:
    """``spu-monitor ARGS`` (``python -m monitor`` is the same entry point)."""
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_spu_monitor_replay_apnea_at_exactly_its_boundary() -> None:
    # no breath from 400 s (airway rate 0): 20 s later, not a moment before or after
    result = spu_monitor("replay", str(DATA / "apnea.csv"))
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == [
        {"t": 420.0, "rule": "APNEA", "priority": "high", "event": "onset", "value": 0.0},
        {"t": 430.0, "rule": "RR_LOW", "priority": "medium", "event": "onset", "value": 0.0},
        {"t": 440.0, "rule": "RR_LOW", "priority": "medium", "event": "end", "value": 13.0},
        # latching: it stays after breathing resumes, and nobody acknowledges in replay
        {"t": 450.0, "rule": "APNEA", "priority": "high", "event": "escalation", "value": 0.0},
    ]


@pytest.mark.parametrize(("apnea_s", "onset"), [(20, 420.0), (19, None)])
def test_replay_apnea_boundary_and_etco2_floor(tmp_path: pathlib.Path, apnea_s: int,
                                               onset: float | None) -> None:
    rows = []
    for t in range(480):
        rows += [f"{t},ETCO2,{3 if 400 <= t < 400 + apnea_s else 36}"]  # no rate at all
    out = lines(cli(str(write(tmp_path, rows))).stdout)
    got = [o["t"] for o in out if o["rule"] == "APNEA" and o["event"] == "onset"]
    assert got == ([] if onset is None else [onset])


def test_replay_capnography_artifacts_and_line_flags(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "line.csv"
    rows = ["time_s,metric,value,flags"]
    rows += [f"{t},AWRR,14," for t in range(10)]
    rows += [f"{t},AWRR,,sensor_disconnect" for t in range(10, 100)]
    rows += [f"{t},ETCO2,0,artifact" for t in range(10, 100)]
    path.write_text("\n".join(rows) + "\n")
    out = lines(cli(str(path), "--no-infusion").stdout)
    assert [(o["rule"], o["event"], o["t"]) for o in out if o["event"] == "onset"] == [
        ("CO2_LINE", "onset", 10.0)]


def test_replay_cli_hr_rise_against_computed_baseline_escalates(tmp_path: pathlib.Path) -> None:
    rows = steady(300) + ["300,INFUSION_START,"] + steady(500, hr=95, start=300)
    rows += ["0,NIBP_SYS,120", "0,NIBP_DIA,80", "200,NIBP_SYS,118", "200,NIBP_DIA,78"]
    out = lines(cli(str(write(tmp_path, rows))).stdout)
    got = [(o["rule"], o["event"], o["t"]) for o in out]
    assert ("HR_RISE", "onset", 360.0) in got  # 95 > 1.2 x 72 = 86.4 from 300 s, 60 s delay
    assert ("HR_RISE", "escalation", 420.0) in got


def test_replay_cli_baseline_override(tmp_path: pathlib.Path) -> None:
    rows = steady(300) + ["300,INFUSION_START,"] + steady(500, hr=95, start=300)
    out = lines(cli(str(write(tmp_path, rows)), "--baseline-hr", "90").stdout)
    assert not [o for o in out if o["rule"] == "HR_RISE"]  # 95 < 1.2 x 90


def test_replay_cli_bp_override_and_limits(tmp_path: pathlib.Path) -> None:
    rows = steady(400) + ["300,INFUSION_START,", "310,NIBP_SYS,150", "310,NIBP_DIA,85",
                          "350,NIBP_SYS,150", "350,NIBP_DIA,85"]
    out = lines(cli(str(write(tmp_path, rows)), "--baseline-sys", "120",
                    "--baseline-dia", "80").stdout)
    got = [(o["rule"], o["event"], o["t"]) for o in out]
    assert ("BP_RISE", "onset", 312.0) in got  # no mean: the reading closes after 2 s
    assert ("BP_RISE_SEVERE", "onset", 352.0) in got


def test_replay_without_infusion_start_takes_baselines_from_first_5_minutes(
        tmp_path: pathlib.Path) -> None:
    rows = steady(300) + steady(500, hr=95, start=300)
    out = lines(cli(str(write(tmp_path, rows))).stdout)
    assert ("HR_RISE", "onset", 360.0) in [(o["rule"], o["event"], o["t"]) for o in out]
    # No NIBP in this recording: no BP rule can run, so no "no baseline" condition.
    assert not [o for o in out if o["rule"] == "NO_BASELINE"]
    with_cuff = steady(300) + ["10,NIBP_SYS,120", "10,NIBP_DIA,80", "10,NIBP_MEAN,93"]
    out = lines(cli(str(write(tmp_path, sorted(with_cuff, key=lambda r: int(r.split(",")[0]))
                              + steady(500, hr=95, start=300)))).stdout)
    assert ("NO_BASELINE", "onset", 300.0) not in [(o["rule"], o["event"], o["t"]) for o in out]
    out = lines(cli(str(write(tmp_path, rows)), "--no-infusion").stdout)
    assert not [o for o in out if o["rule"] in ("HR_RISE", "NO_BASELINE")]


def test_replay_artifact_rows_never_alarm(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "art.csv"
    rows = ["time_s,metric,value,flags"]
    for t in range(200):
        rows += [f"{t},SPO2,101,", f"{t},HR,40,artifact", f"{t},PR,,"]
    path.write_text("\n".join(rows) + "\n")
    out = lines(cli(str(path), "--no-infusion").stdout)
    assert not [o for o in out if o["rule"] in ("SPO2_LOW", "SPO2_SEVERE", "HR_LIMIT")]


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("time,metric,value\n1,HR,70\n", 1, "header"),
        ("time_s,metric,value\n1,HR,70\n2,TEMP,37\n", 3, "unknown metric 'TEMP'"),
        ("time_s,metric,value\n1,HR,seventy\n", 2, "not a number"),
        ("time_s,metric,value\nabc,HR,70\n", 2, "time 'abc' is not a number"),
        ("time_s,metric,value\n1,HR,70,extra\n", 2, "expected 3 fields"),
        ("time_s,metric,value\n1,HR,nan\n", 2, "not a finite number"),
        ("time_s,metric,value,flags\n1,HR,70,wobbly\n", 2, "unknown flag"),
        ("time_s,metric,value\n1,INFUSION_START,1\n", 2, "empty value"),
        ("", 1, "empty file"),
    ],
)
def test_replay_invalid_csv_exits_2_naming_the_line(tmp_path: pathlib.Path, content: str,
                                                    line: int, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = cli(str(path))
    assert result.returncode == 2
    assert f"bad.csv line {line}" in result.stderr and words in result.stderr
    assert result.stdout == ""


def test_replay_missing_file_and_bad_options_exit_2(tmp_path: pathlib.Path) -> None:
    assert cli(str(tmp_path / "nope.csv")).returncode == 2
    good = write(tmp_path, steady(10))
    result = cli(str(good), "--baseline-dia", "80")
    assert result.returncode == 2 and "--baseline-sys" in result.stderr
    assert cli(str(good), "--baseline-sys", "60", "--baseline-dia", "90").returncode == 2


def test_replay_help_documents_the_defaults() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for words in ("INFUSION_START", "300 s after the first sample", "holds until the next",
                  "onset / escalation / end"):
        assert words in result.stdout


def test_sparse_data_value_holds_until_the_next_sample(tmp_path: pathlib.Path) -> None:
    # once a minute: one low minute is 60 s of low SpO2 (> 15 s): one onset at +15 s
    rows = [f"{60 * i},SPO2,{91 if i == 5 else 97}" for i in range(10)]
    out = lines(cli(str(write(tmp_path, rows)), "--no-infusion").stdout)
    spo2 = [(o["event"], o["t"]) for o in out if o["rule"] == "SPO2_LOW"]
    assert spo2 == [("onset", 315.0), ("end", 360.0)]
    # the same low minute followed 10 s later by an invalid sample holds only 10 s
    rows.append("310,SPO2,")
    out = lines(cli(str(write(tmp_path, rows)), "--no-infusion").stdout)
    assert not [o for o in out if o["rule"] == "SPO2_LOW"]


def test_sparse_overrides() -> None:
    assert rp.sparse_overrides(1.0) == {} and rp.sparse_overrides(None) == {}
    over = rp.sparse_overrides(60.0)
    assert over["data"]["hold_max"] == 90.0
    RuleSet.default().with_overrides(over, patient=False)  # valid


def test_replay_in_process_matches_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert rp.main([str(DATA / "spo2_dip.csv")]) == 0
    assert capsys.readouterr().out == cli(str(DATA / "spo2_dip.csv")).stdout


# ---- the real MIMIC numerics record ------------------------------------------------------


@pytest.mark.recordings
def test_replay_mimic_numerics_record() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb

    record = recordings_dir() / MIMIC
    result = cli(str(record))
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    assert out, "expected at least the NO_BASELINE / NIBP_OVERDUE conditions"
    # ground truth: SpO2 once a minute, 0 = no value
    rec = wfdb.rdrecord(str(record))
    spo2 = rec.p_signal[:, rec.sig_name.index("SpO2")]
    times = [i / rec.fs for i in range(len(spo2))]
    low = {round(t, 3) for t, v in zip(times, spo2, strict=True) if 0 < v < 93}
    onsets = [o for o in out if o["rule"] == "SPO2_LOW" and o["event"] == "onset"]
    for o in onsets:
        # sustained = the low sample's value held (until the next minute) for 15 s
        start = round(o["t"] - 15.0, 3)
        assert start in low, f"SPO2_LOW onset at {o['t']} without a sub-93 sample at {start}"
        assert o["value"] < 93
    assert len(onsets) == len(low)  # each isolated low minute holds 60 s > 15 s
    # The record's HR artefact (a lone 11.5 among missing values) is no bradycardia.
    hr = rec.p_signal[:, rec.sig_name.index("HR")]
    assert any(0 < v < 20 for v in hr), "the artefact this test is about is in the record"
    assert not [o for o in out if o["rule"] == "HR_LIMIT"]
    # the same output with the .hea extension
    assert cli(str(record) + ".hea").stdout == result.stdout


@pytest.mark.recordings
def test_replay_mimic_in_process_is_deterministic() -> None:
    recording = rp.load(str(recordings_dir() / MIMIC))
    rules = RuleSet.default().with_overrides(rp.sparse_overrides(recording.period()),
                                             patient=False)
    first = [e.to_dict() for e in rp.replay(recording, rules)]
    assert first == [e.to_dict() for e in rp.replay(recording, rules)]
    assert any(e["event"] == "baseline" for e in first)
