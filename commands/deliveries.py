"""Slack's redeliveries, recognised by every replica.

Slack delivers a request again when it did not get an answer in time: the Events API with the
same event_id (X-Slack-Retry-Num, after about a minute, then five), Socket Mode with the same
payload in a new envelope (retry_attempt), and a load balancer may resend a slash command or a
click to another replica. The payload's trigger_id (slash commands, clicks, submissions) or
event_id (events) is the same each time, so that, with the team, names a delivery. The first
replica to take it records it in the database; a copy arriving anywhere before the row
expires is acknowledged and dropped, so a command opens one modal and a click acts once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from commands.bootstrap import Core
from commands.errors import database_unavailable

# Slack's last Events API retry comes about five minutes after the first delivery; a Socket
# Mode envelope is redelivered within seconds. Fifteen minutes covers both with room.
EXPIRY = timedelta(minutes=15)


def first_delivery(core: Core, team_id: str, delivery_id: str) -> bool:
    """True for the first delivery of (team, trigger or event ID) across every replica;
    False for a copy of one already taken. DatabaseUnavailable when it cannot be told."""
    at = core.clock()
    return _asking(lambda: core.db.deliveries.claim(team_id, delivery_id[:255], at, at + EXPIRY))


def taken_before(core: Core, team_id: str, delivery_id: str) -> bool:
    """Whether (team, trigger or event ID) was taken already, by any replica, without taking
    it. DatabaseUnavailable when it cannot be told."""
    return _asking(lambda: core.db.deliveries.taken(team_id, delivery_id[:255], core.clock()))


def _asking(ask: Callable[[], bool]) -> bool:
    try:
        return ask()
    except Exception as error:
        unavailable = database_unavailable(error)
        if unavailable is not None:
            raise unavailable from error
        raise


def purge_deliveries(core: Core) -> int:
    """Forgets the deliveries whose time for a redelivery has passed. Returns how many."""
    return core.db.deliveries.purge(core.clock())
