"""What the random operations run on: a core on a real database, the sandbox over HTTP, a
clock moved by hand, and what the operations remember to check the invariants with."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from commands import deprecation, services
from commands.bootstrap import Core
from commands.errors import CloudError
from commands.model import (
    Actor,
    Finding,
    JobState,
    Product,
    Status,
    Unpublication,
    Version,
    now,
)
from commands.sandbox import Sandbox
from commands.worker import Worker
from storage.orm import metadata
from tests.conftest import DISTRIBUTION, SUB_A, SUB_B, SUB_C
from tests.digest import state_digest

# account -> (organization, contact, Slack channel)
SUBSCRIBERS = {
    SUB_A: ("Acme", "ops@acme.example", "CACME"),
    SUB_B: ("Globex", "cloud@globex.example", "CGLOBEX"),
    SUB_C: ("Acme", "C@Acme.example", None),  # another contact of Acme, no channel
}
ORGANIZATIONS = {"Acme": ("fr", ["admin@acme.example"]), "Globex": ("en", ["it@globex.example"])}
REQUESTER = "UREQ"  # anyone: asks for publications and dated unpublications
OPERATOR = Actor.cli_operator("cli:ci")
STRANGER = "666666666666"  # an account nobody subscribed


def manager(code: str) -> Actor:
    """The release manager who decides the product's requests."""
    return Actor.slack_user(f"URM{code}")


def second_manager(code: str) -> Actor:
    """Another release manager of the product: asks to unpublish at once (a release manager's
    right), so that the first one may decide."""
    return Actor.slack_user(f"URM{code}B")


class Clock:
    """Moved by hand, and a millisecond on each reading: every moment is distinct, so the
    order of what was made (the Versions table) is the order it was made in, run after run."""

    def __init__(self) -> None:
        self.at = now()

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class World:
    core: Core
    cloud: Sandbox
    clock: Clock = field(default_factory=Clock)
    products: dict[str, str] = field(default_factory=dict)  # code -> pricing
    subscribed: set[tuple[str, str]] = field(default_factory=set)  # (account, code)
    # (event, subject) of each notice already seen -> the recipients it had then
    events: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    omis: dict[str, str] = field(default_factory=dict)  # version -> its OMI (R5)
    frozen: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # unpublished (R6)
    published: dict[str, int] = field(default_factory=dict)  # code -> published count (R7)
    unpublishing: set[str] = field(default_factory=set)  # products a whole unpublication hit
    awaiting: set[str] = field(default_factory=set)  # unpublished versions not told yet
    tampered: set[str] = field(default_factory=set)  # versions whose copy was changed by hand
    gone_omis: set[str] = field(default_factory=set)  # source OMIs the seller deleted

    def reset(self) -> None:
        """A fresh start for one example: empty tables, the cloud as it was, a new clock."""
        with self.core.db.engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                # The audit trail is append-only (the database refuses DELETE); its events
                # play no part in the invariants, so earlier examples' are left there.
                if table.name != "audit_events":
                    connection.execute(delete(table))
        self.cloud.reset()
        self.cloud.copy_delay = 0  # until a step makes copies slow
        for name in ("products", "events", "omis", "frozen", "published"):
            getattr(self, name).clear()
        for name in ("subscribed", "unpublishing", "awaiting", "tampered", "gone_omis"):
            getattr(self, name).clear()
        self.clock = Clock()
        self.core.clock = self.clock
        for name, (language, admins) in ORGANIZATIONS.items():
            services.save_organization(self.core, name=name, language=language, admin_emails=admins)
        for account, (org, email, channel) in SUBSCRIBERS.items():
            services.save_subscriber(
                self.core, account_id=account, organization=org, email=email, slack_channel=channel
            )
        self.worker = Worker(self.core, deliverers=[], name="machine")

    # -- what is expected -------------------------------------------------------------------
    def accounts(self, code: str) -> set[str]:
        return {a for a, c in self.subscribed if c == code}

    def mail_recipients(self, code: str) -> set[str]:
        found: set[str] = set()
        for account in self.accounts(code):
            org, email, _ = SUBSCRIBERS[account]
            found.add(email.lower())
            found.update(a.lower() for a in ORGANIZATIONS[org][1])
        return found

    def channels(self, code: str) -> set[str]:
        return {c for a in self.accounts(code) if (c := SUBSCRIBERS[a][2]) is not None}

    # -- reading what is --------------------------------------------------------------------
    def product(self, code: str) -> Product:
        with self.core.uow() as uow:
            product = uow.products.get(code)
        assert product is not None
        return product

    def versions(self) -> list[Version]:
        found: list[Version] = []
        for code in sorted(self.products):
            found.extend(self.product(code).versions_table())
        return found

    def copies(self) -> dict[str, list[dict[str, Any]]]:
        """The distribution account's copies, by the version whose name they carry."""
        by_version: dict[str, list[dict[str, Any]]] = {}
        for image in self.cloud.images.values():
            name = str(image["ImageName"])
            if image["AccountId"] == DISTRIBUTION and "-omi-bot-" in name:
                by_version.setdefault(name.rsplit("-omi-bot-", 1)[1], []).append(image)
        return by_version

    # -- acting -----------------------------------------------------------------------------
    @contextmanager
    def unchanged_if_refused(self) -> Iterator[None]:
        """OUTSCALE may refuse a call the operation makes before writing (a 503 burst): then
        nothing was written. Only an injected failure can make the local sandbox refuse."""
        before = state_digest(self.core) if self.cloud.knobs()["fail_next"] else None
        try:
            yield
        except CloudError:
            assert before is not None, "OUTSCALE refused without being told to"
            assert state_digest(self.core) == before, "a refused operation changed something"

    def check_findings(self, findings: Sequence[Finding]) -> None:
        """Drift is what someone changed by hand, or work the worker gave up (a grant that
        failed every attempt); nothing else."""
        with self.core.uow() as uow:
            gave_up = {j.version_id for j in uow.jobs.list(JobState.FAILED, limit=100_000)}
        for finding in findings:
            assert finding.version_id in self.tampered | gave_up, (
                f"drift nobody made: {finding.kind.value} {finding.detail}"
            )

    def schedules(self) -> list[Unpublication]:
        with self.core.uow() as uow:
            return uow.schedules.list()

    def run_jobs(self, count: int) -> None:
        """Runs up to `count` jobs, as the worker's ticks do (what schedules have due becomes
        jobs first), letting time pass to the next job due."""
        for _ in range(count):
            deprecation.promote_due(self.core)
            if self.worker.run_one():
                continue
            with self.core.uow() as uow:
                next_at = uow.jobs.next_run_at()
            if next_at is None:
                return
            self.clock.at = max(self.clock.at, next_at)

    def drain(self) -> None:
        """The cloud answers again and finishes its copies; the worker runs until nothing is
        left. A job that never ends would fail the example."""
        self.cloud.fail_next(0)
        self.cloud.fail_copies(False)
        for _ in range(500):
            self.cloud.finish_copies()
            self.run_jobs(50)
            with self.core.uow() as uow:
                if uow.jobs.unfinished() == 0:
                    return
        raise AssertionError("the worker never finished its jobs")

    def status(self, version_id: str) -> Status:
        with self.core.uow() as uow:
            version = uow.versions.get(version_id)
        assert version is not None
        return version.status
