"""``spu-monitor records`` and ``spu-monitor report``: the study's records on the command line.

::

    spu-monitor records import cohort.csv --db monitor.db   # a research CSV, all or nothing
    spu-monitor records export --db monitor.db > cohort.csv  # the same form back
    spu-monitor report unit --db monitor.db --from 2026-01-01 --to 2026-06-30 --json
    spu-monitor report unit --db monitor.db --pdf unit.pdf
    spu-monitor report course MRN-0042 --db monitor.db --pdf course.pdf
    spu-monitor report session 17 --db monitor.db --pdf session.pdf

Long commands say what they do on a terminal (standard error) and stay quiet when piped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from monitor.config import UnitConfig, database_url
from monitor.domain.errors import ConfigError
from monitor.records.cohort import read_cohort, write_cohort
from monitor.records.episodes import EpisodeRules
from monitor.storage.database import Store

T = TypeVar("T")

ACTOR = "cli"
"""Who the audit log names for imports made with this command."""


def _with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--db", default=None,
                   help="SQLite file path or SQLAlchemy URL (default spu-monitor.db; "
                        "env MONITOR_DB): the service's database")
    return p


def _period(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", type=_date, default=None, metavar="DATE",
                   help="first course day to include (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", type=_date, default=None, metavar="DATE",
                   help="last course day to include (YYYY-MM-DD)")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def configure_records(records: argparse.ArgumentParser) -> None:
    """Add ``records import | export``."""
    sub = records.add_subparsers(dest="records_command", required=True, metavar="ACTION")
    imp = _with_db(sub.add_parser(
        "import", help="import a research CSV (one row per patient and course day)",
        description="Import a research CSV: columns patient, sex, birth_date, weight_kg, "
        "height_cm, day, date, dose_mg, pain, worst_pain, least_pain, pain_24h, affective, "
        "punishing, movement, relief_percent, side_effects. A bad file is refused whole, "
        "naming the row (the header is row 1) and the column; nothing is half-imported."))
    imp.add_argument("file", help="the CSV file (UTF-8)")
    exp = _with_db(sub.add_parser(
        "export", help="write the records as a research CSV (standard output)",
        description="Write every course day (and follow-up journal) of the records as a "
        "research CSV, in the form import reads."))
    exp.add_argument("--out", default=None, help="write to this file instead")
    _period(exp)


def configure_report(report: argparse.ArgumentParser) -> None:
    """Add ``report unit | course | session``."""
    sub = report.add_subparsers(dest="report_command", required=True, metavar="KIND")
    unit = _with_db(sub.add_parser(
        "unit", help="the unit's study table over a period: demographics, each journal "
        "measure by day, day 1 against day 10, side-effect incidence",
        description="The unit report over the courses with a course day in the period."))
    _period(unit)
    course = _with_db(sub.add_parser("course", help="one patient's course: each journal "
                                     "measure day 1 to 10 and follow-up"))
    course.add_argument("patient", help="the patient's identifier (e.g. the MRN)")
    session = _with_db(sub.add_parser("session", help="one session: trends, NIBP, alarms, "
                                      "episodes, side effects, premedication, journal"))
    session.add_argument("id", type=int, help="the session's id")
    for p in (unit, course, session):
        out = p.add_mutually_exclusive_group()
        out.add_argument("--json", action="store_true", help="print the report as JSON")
        out.add_argument("--pdf", metavar="FILE", help="write the report as a PDF")
        p.add_argument("--config", default=None,
                       help="the unit file, for the site's alarm settings (its BP factor "
                            "defines a hypertension episode)")


def _say(text: str) -> None:
    if sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, work: Callable[[Store], Awaitable[T]]) -> T:
    from monitor.config import Settings

    db = args.db or Settings().db

    async def main() -> T:
        store = await Store.open(database_url(db))
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


def run_records(args: argparse.Namespace) -> int:
    """``spu-monitor records``."""
    if args.records_command == "import":
        path = Path(args.file)
        if not path.is_file():
            raise ConfigError(f"{path}: not a file")
        _say(f"reading {path}...")
        rows = read_cohort(path)

        async def work(store: Store) -> int:
            from monitor.records.cohort_store import import_cohort

            _say(f"importing {len(rows)} rows...")
            counts = await import_cohort(store, rows, ACTOR, time.time())
            print(f"imported {counts['patients']} patients, {counts['sessions']} sessions, "
                  f"{counts['follow_ups']} follow-up journals from {path}")
            return 0

        return _run(args, work)

    left_out: list[str] = []

    async def export(store: Store) -> str:
        from monitor.reports.data import cohort

        _say("gathering the records...")
        found = await cohort(store, EpisodeRules(), time.time(), start=args.start,
                             end=args.end)
        left_out.extend(found.left_out)
        return write_cohort(found.rows)

    text = _run(args, export)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if left_out:
        print(f"left out (no birth date or sex recorded): {', '.join(left_out)}",
              file=sys.stderr)
    return 0


def _rules(args: argparse.Namespace) -> EpisodeRules:
    if not args.config:
        return EpisodeRules()
    rules = UnitConfig.load(args.config).rule_set()
    return EpisodeRules(bp_factor=rules.rules["BP_RISE"].p("factor"))


def run_report(args: argparse.Namespace) -> int:
    """``spu-monitor report``."""
    rules = _rules(args)

    async def work(store: Store) -> tuple[dict[str, Any], Callable[[], bytes]]:
        _say(f"gathering the {args.report_command} report...")
        return await _build(store, args, rules)

    report, pdf = _run(args, work)
    if args.pdf:
        _say("writing the PDF...")
        Path(args.pdf).write_bytes(pdf())
        print(f"wrote {args.pdf}")
    else:
        print(json.dumps(report, indent=None if args.json else 2, default=str))
    return 0


async def _build(store: Store, args: argparse.Namespace, rules: EpisodeRules
                 ) -> tuple[dict[str, Any], Callable[[], bytes]]:
    from monitor.reports import data, pdf, session_pdf

    now = time.time()
    if args.report_command == "unit":
        report = await data.unit_report(store, rules, now, args.start, args.end)
        period = f"{args.start or 'start'} to {args.end or 'now'}"
        return report, lambda: pdf.unit_report_pdf(report, "Unit report", period)
    if args.report_command == "course":
        patient, rows = await data.course_rows(store, args.patient, rules, now)
        summary = {"identifier": patient.identifier, "name": patient.display_name,
                   "sex": patient.sex, "birth_date": patient.birth_date}
        course = {"patient": patient.to_dict(),
                  "rows": [{**asdict(r), "label": r.label} for r in rows]}
        return course, lambda: pdf.course_report_pdf(summary, rows)
    log = await store.alarm_log(session_id=args.id, limit=100_000)
    report = await data.session_report(store, args.id, rules, now, log)
    return report, lambda: session_pdf.session_report_pdf(report)
