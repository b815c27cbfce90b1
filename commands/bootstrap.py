"""Wires the core to its adapters: the database, OUTSCALE, the clock. Slack, the CLI and the
tests all start here, and tests swap an adapter by passing it in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commands.config import Settings
from commands.model import now
from commands.outscale import Cloud
from storage.db import make_engine
from storage.migrate import upgrade
from storage.uow import Database, ReadUnitOfWork, UnitOfWork


@dataclass
class Core:
    settings: Settings
    db: Database
    cloud: Cloud
    clock: Callable[[], datetime] = field(default=now)

    def uow(self) -> UnitOfWork:
        """A unit of work that may write (on SQLite, the write lock from its BEGIN)."""
        return self.db.uow()

    def reading(self) -> ReadUnitOfWork:
        """A unit of work for reads only: it does not queue behind writers on SQLite."""
        return self.db.reading()


def cloud_from(settings: Settings) -> Cloud:
    options: dict[str, Any] = {"cache_dir": settings.cache_dir}
    if settings.osc_max_retries is not None:
        options["max_retries"] = settings.osc_max_retries
    if settings.osc_retry_backoff is not None:
        options["retry_backoff_factor"] = settings.osc_retry_backoff
        options["retry_backoff_jitter"] = settings.osc_retry_backoff
    if settings.osc_rate_limit is not None:
        options["limiter_max_requests"] = settings.osc_rate_limit
    return Cloud(
        settings.seller_profile,
        settings.distribution_profile,
        settings.osc_timeout,
        options=options,
    )


def bootstrap(
    settings: Settings | None = None,
    *,
    cloud: Cloud | None = None,
    migrate: bool = True,
    clock: Callable[[], datetime] = now,
) -> Core:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url, **settings.database_limits())
    if migrate:
        upgrade(engine)
    return Core(
        settings=settings,
        db=Database(engine),
        cloud=cloud or cloud_from(settings),
        clock=clock,
    )
