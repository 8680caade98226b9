"""The store on a real PostgreSQL server (the scale-out path): migrations, writes, queries,
sessions and saved alarm states. Skipped, with the reason, where PostgreSQL is absent."""

from __future__ import annotations

import time

import pytest

from monitor.alarms.engine import RuleSet
from monitor.domain.models import AlarmEvent, DeviceStatus, Observation
from monitor.live.alarm_states import AlarmStates
from monitor.live.bus import Bus
from monitor.live.rules_feed import RulesFeed
from monitor.records import courses, patients
from monitor.records import sessions as admissions
from monitor.storage.database import Store
from tests.pgserver import throwaway_postgres


@pytest.fixture(scope="module")
def postgres_url():
    yield from throwaway_postgres()


async def test_postgres_store_round_trip(postgres_url: str) -> None:
    from monitor.config import database_url

    store = await Store.open(database_url(postgres_url))
    try:
        await store.write_batch(
            [Observation.of("SPO2", 95, 10.0, "d1", {"sensor_off"}, "bed-1")],
            [DeviceStatus("d1", "connected", 5.0, "ok", {"model": "rad8"}, "bed-1")],
            [AlarmEvent("bed-1/1/SPO2_LOW", "bed-1", "SPO2_LOW", "medium", False, "onset",
                        11.0, 91.0, threshold=93.0)],
        )
        (obs,) = await store.recent_observations("bed-1")
        assert (obs.value, obs.flags) == (95.0, frozenset({"sensor_off"}))
        (log,) = await store.alarm_log("bed-1")
        assert (log["rule"], log["threshold"]) == ("SPO2_LOW", 93.0)
        assert (await store.device_events("bed-1"))[0]["info"] == {"model": "rad8"}

        patient = await patients.create(store, {"identifier": "MRN-1", "family_name": "P"},
                                        "nurse", time.time())
        course = await courses.create(store, patient.id, courses.DosePlan(), "nurse",
                                      time.time())
        admission = await admissions.admit(store, "bed-2", patient, course, "nurse",
                                           time.time(), day=2)
        assert admission.phase == "pre_infusion" and admission.planned_dose_mg == 45
        bus = Bus()
        alarms = RulesFeed(bus, ["bed-2"], RuleSet.default(), AlarmStates(store))
        alarms.start_monitoring("bed-2", "nurse")
        await alarms.save()
        restored = RulesFeed(bus, ["bed-2"], RuleSet.default(), AlarmStates(store))
        await restored.load()
        assert restored.states["bed-2"].monitoring
    finally:
        await store.close()
    # Opening again finds the schema up to date.
    store = await Store.open(database_url(postgres_url))
    await store.close()


async def test_postgres_accounts(postgres_url: str) -> None:
    """Users, sessions and tokens on PostgreSQL (unique names, digests, revocation)."""
    from monitor.auth.accounts import Accounts
    from monitor.config import database_url
    from monitor.domain.errors import AuthError

    store = await Store.open(database_url(postgres_url))
    try:
        accounts = Accounts(store)
        await accounts.add_user("pg.nurse", "nurse", "correct horse battery", "tests")
        with pytest.raises(AuthError, match="already exists"):
            await accounts.add_user("PG.Nurse", "admin", "correct horse battery", "tests")
        user = await accounts.authenticate("pg.nurse", "correct horse battery")
        session = await accounts.open_session(user)
        token = await accounts.issue_token("pg.nurse", "pager", "tests")
        assert await accounts.session_user(session) == user
        assert await accounts.token_user(token) == user
        assert await accounts.revoke_tokens("pg.nurse", None, "tests") == 1
        await accounts.close_session(session)
        assert await accounts.session_user(session) is None
        assert await accounts.token_user(token) is None
    finally:
        await store.close()
