"""Saving the rules engine's per-bed states, so alarms, pauses and baselines survive a restart."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from monitor.alarms import snapshot
from monitor.alarms.engine import BedState
from monitor.storage.database import Store
from monitor.storage.tables import RulesStateRow

_LOGGER = logging.getLogger(__name__)


class AlarmStates:
    """Engine states in the ``rules_state`` table, one JSON snapshot per bed.

    Args:
        store: the database.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self, bed_ids: list[str]) -> dict[str, BedState]:
        """The saved states of these beds (a state that no longer fits the engine is
        dropped with an error logged: that bed starts afresh)."""
        async with self.store.session() as session:
            rows = (await session.execute(select(RulesStateRow))).scalars().all()
        states: dict[str, BedState] = {}
        for row in rows:
            if row.bed_id not in bed_ids:
                continue
            try:
                states[row.bed_id] = snapshot.load(BedState, row.state)
            except ValueError as exc:
                _LOGGER.error("saved alarm state of bed %s cannot be used (%s): starting "
                              "afresh", row.bed_id, exc)
        return states

    async def save(self, states: dict[str, BedState], now: float) -> bool:
        """Save these states in one transaction; False (logged) when the database fails."""
        rows = [{"bed_id": b, "state": snapshot.dump(s), "saved_at": now}
                for b, s in states.items()]
        try:
            async with self.store.session() as session, session.begin():
                for row in rows:
                    await session.merge(RulesStateRow(**row))
        except SQLAlchemyError as exc:
            _LOGGER.error("cannot save alarm states: %s", exc)
            return False
        return True
