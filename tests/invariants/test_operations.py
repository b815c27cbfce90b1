"""Random sequences of everything sellers, release managers, subscribers, the worker, the
calendar and the cloud do, against a real database and the sandbox over HTTP; after every step
the invariants of checks.py hold, and once the worker has drained (and drift has been checked
and repaired) the cloud is what the Versions table says.

Each rule also checks its own outcome: what the seed's rules refuse is refused and changes
nothing; what they allow goes through."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from commands import drift, pipeline, services
from commands.bootstrap import Core
from commands.errors import CloudError, FormErrors, NotAllowed, RuleBroken, UserError
from commands.model import Actor, Request, RequestKind, RequestState, Status, VersionForm, typed
from commands.sandbox import SandboxServer
from commands.services.schedules import today
from commands.worker import HANDLERS, _JobContext
from tests.conftest import SELLER, SUB_A, SUB_B, SUB_C
from tests.digest import state_digest
from tests.invariants.checks import check_always, check_settled
from tests.invariants.conftest import NOTICE_DAYS, OMIS_PER_PRODUCT, PRODUCTS, REMINDER_DAYS, omi_id
from tests.invariants.regressions import RegressionExamples
from tests.invariants.world import (
    OPERATOR,
    REQUESTER,
    STRANGER,
    World,
    manager,
    second_manager,
)

# Bounded in CI; OMI_HYPOTHESIS_EXAMPLES asks for more (and random ones) when looking for trouble.
EXAMPLES = int(os.environ.get("OMI_HYPOTHESIS_EXAMPLES") or 12)
STEPS = int(os.environ.get("OMI_HYPOTHESIS_STEPS") or 30)

codes = st.sampled_from(sorted(PRODUCTS))
omis = st.integers(0, OMIS_PER_PRODUCT - 1)
F = TypeVar("F", bound=Callable[..., Any])
REQUESTER_ACTOR = Actor.slack_user(REQUESTER)


def then_work(rule_body: F) -> F:
    """The worker goes on while people act: after the rule, a few jobs, or none. After, not
    before: what a step changed (a subscription) is what the worker's notices then follow."""

    @functools.wraps(rule_body)
    def wrapper(self: Operations, **kwargs: Any) -> Any:
        result = rule_body(self, **kwargs)
        self.world.run_jobs(kwargs["data"].draw(st.integers(0, 6), label="jobs meanwhile"))
        return result

    return wrapper  # type: ignore[return-value]


class Operations(RuleBasedStateMachine):
    world: World  # set by the test

    requests = Bundle("requests")

    runs = 0  # how many sequences have started, for the test that the kept ones replay

    def __init__(self) -> None:
        super().__init__()
        Operations.runs += 1
        self.world.reset()
        self.statuses: dict[str, Status] = {}

    # -- helpers ----------------------------------------------------------------------------
    @property
    def core(self) -> Core:
        return self.world.core

    def refused(self, error: type[UserError], action: Any, *args: Any, **kw: Any) -> None:
        """The operation is refused with `error` and nothing changes."""
        before = state_digest(self.core)
        with self.world.unchanged_if_refused(), pytest.raises(error):
            action(self.core, *args, **kw)
        assert state_digest(self.core) == before

    def code(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.world.products)), label="product")

    def version(self, data: st.DataObject, *statuses: Status) -> Any:
        versions = [v for v in self.world.versions() if not statuses or v.status in statuses]
        return data.draw(st.sampled_from(versions), label="version") if versions else None

    def omi_free(self, omi: str) -> bool:
        """R2, R5: the OMI exists and no version holds it (failed ones let it go)."""
        held = any(v.omi_id == omi and v.status is not Status.FAILED for v in self.world.versions())
        return not held and omi not in self.world.gone_omis

    def some_date(self, data: st.DataObject, code: str) -> Any:
        """A date for an unpublication: often far enough for the product's notice, not always."""
        return today(self.core) + timedelta(days=data.draw(st.integers(0, 6), label="in days"))

    # -- products and subscribers -----------------------------------------------------------
    @initialize(code=codes)
    def first_product(self, code: str) -> None:
        self.add_product(code)

    @rule(code=codes)
    def add_product(self, code: str) -> None:
        services.save_product(
            self.core, code=code, name=f"Product {code}", seller_account_id=SELLER,
            pricing=PRODUCTS[code], approval_channel="CREL",
            release_managers=[manager(code).id, second_manager(code).id],
            notice_days=NOTICE_DAYS[code], reminder_days=REMINDER_DAYS,
        )  # fmt: skip
        if code not in self.world.products:
            self.world.products[code] = PRODUCTS[code]
            # C stays subscribed: every event has someone to tell, so none can go unseen.
            assert services.subscribe(self.core, SUB_C, code)
            self.world.subscribed.add((SUB_C, code))

    @precondition(lambda self: self.world.products)
    @rule(data=st.data(), account=st.sampled_from([SUB_A, SUB_B]))
    @then_work
    def subscribe(self, data: st.DataObject, account: str) -> None:
        code = self.code(data)
        added = services.subscribe(self.core, account, code)
        assert added == ((account, code) not in self.world.subscribed)
        self.world.subscribed.add((account, code))

    @precondition(lambda self: self.world.products)
    @rule(data=st.data(), account=st.sampled_from([SUB_A, SUB_B]))
    @then_work
    def unsubscribe(self, data: st.DataObject, account: str) -> None:
        code = self.code(data)
        removed = services.unsubscribe(self.core, account, code)
        assert removed == ((account, code) in self.world.subscribed)
        self.world.subscribed.discard((account, code))

    # -- publishing -------------------------------------------------------------------------
    @precondition(lambda self: self.world.products)
    @rule(target=requests, data=st.data(), index=omis, note=st.text(min_size=1, max_size=30))
    @then_work
    def request_publication(self, data: st.DataObject, index: int, note: str) -> Any:
        code = self.code(data)
        omi = omi_id(code, index)
        form = VersionForm(omi=omi, release_note=note, software_version=str(index))
        if not typed(note).strip() or not self.omi_free(omi):
            self.refused(FormErrors, services.request_publication, code, form,
                         requested_by=REQUESTER)  # fmt: skip
            return None
        with self.world.unchanged_if_refused():
            return services.request_publication(self.core, code, form, requested_by=REQUESTER)
        return None

    @precondition(lambda self: self.world.products)
    @rule(data=st.data())
    def request_publication_of_an_omi_that_may_not_be(self, data: st.DataObject) -> None:
        code = self.code(data)
        other = next(c for c in PRODUCTS if c != code)
        omi = data.draw(st.sampled_from(["ami-0000ffff", "ami-9999ffff", omi_id(other, 0)]))
        form = VersionForm(omi=omi, release_note="n")
        self.refused(FormErrors, services.request_publication, code, form, requested_by=REQUESTER)

    @precondition(lambda self: self.world.products)
    @rule(data=st.data(), index=omis)
    @then_work
    def publish_from_the_cli(self, data: st.DataObject, index: int) -> None:
        code = self.code(data)
        omi = omi_id(code, index)
        form = VersionForm(omi=omi, release_note="from a pipeline")
        if not self.omi_free(omi):
            self.refused(FormErrors, services.publish, code, form, requested_by="ci")
            return
        with self.world.unchanged_if_refused():
            services.publish(self.core, code, form, requested_by="ci")

    @rule(data=st.data(), request=consumes(requests), by_other=st.booleans())
    @then_work
    def approve(self, data: st.DataObject, request: Request | None, by_other: bool) -> None:
        if request is None:
            return
        if by_other:
            # A release manager of another product, or the requester: refused, nothing changes.
            stranger = next(manager(c) for c in PRODUCTS if c != request.product_code)
            self.refused(NotAllowed, services.approve, request.id, by=stranger)
        if request.requested_by == second_manager(request.product_code).id:
            self.refused(NotAllowed, services.approve, request.id, by=second_manager(
                request.product_code))  # fmt: skip
        by = manager(request.product_code)
        if self.refusal(request):
            with self.world.unchanged_if_refused():
                with pytest.raises(UserError):
                    services.approve(self.core, request.id, by=by)
                assert services.get_request(self.core, request.id).state is RequestState.FAILED
            return
        with self.world.unchanged_if_refused():
            decision = services.approve(self.core, request.id, by=by)
            assert decision.request.state is RequestState.APPROVED
            if request.kind is RequestKind.UNPUBLISH_PRODUCT and request.unpublish_on is None:
                self.world.unpublishing.add(request.product_code)
            # Deciding twice is refused and changes nothing (a double click, a Slack retry).
            self.refused(UserError, services.approve, request.id, by=by)

    def refusal(self, request: Request) -> bool:
        """Whether the rules refuse this request now, at approval time."""
        product = self.world.product(request.product_code)
        published = product.published_versions()
        if request.kind is RequestKind.PUBLISH:
            return not self.omi_free(str(request.form["omi"]))
        on = request.unpublish_on
        if on is None:
            timely = product.notice_days == 0
        else:
            timely = on >= product.earliest_unpublish_date(today(self.core))
        active = [s for s in self.world.schedules() if s.active and s.product_code == product.code]
        if request.kind is RequestKind.UNPUBLISH:
            version = product.version(str(request.version_id))
            allowed = version.status is Status.BROKEN or (
                version.status is Status.PUBLISHED and len(published) > 1
            )
            free = on is None or not any(
                s.whole_product or s.version_id == version.id for s in active
            )
            return not (allowed and timely and free)
        publishing = any(v.status is Status.PUBLISHING for v in product.versions)
        free = on is None or not any(s.whole_product for s in active)
        return not (published and not publishing and timely and free)

    @rule(request=consumes(requests), reason=st.text(max_size=20))
    def reject(self, request: Request | None, reason: str) -> None:
        if request is None:
            return
        by = manager(request.product_code)
        if not typed(reason).strip():
            self.refused(FormErrors, services.reject, request.id, by=by, reason=reason)
            return
        assert services.reject(self.core, request.id, by=by, reason=reason).state is (
            RequestState.REJECTED
        )

    @precondition(lambda self: any(self.world.published.values()))
    @rule(data=st.data(), note=st.text(min_size=1, max_size=30), as_manager=st.booleans())
    @then_work
    def modify(self, data: st.DataObject, note: str, as_manager: bool) -> None:
        version = self.version(data)
        form = VersionForm(release_note=note, software_version="modified")
        by = manager(version.product_code) if as_manager else REQUESTER_ACTOR
        if not as_manager:
            self.refused(NotAllowed, services.modify, version.id, form, by=by)
        elif version.status is not Status.PUBLISHED:  # R6
            self.refused(RuleBroken, services.modify, version.id, form, by=by)
        elif not typed(note).strip():
            self.refused(FormErrors, services.modify, version.id, form, by=by)
        else:
            notices = len(state_digest(self.core)["outbox"])
            services.modify(self.core, version.id, form, by=by)
            assert len(state_digest(self.core)["outbox"]) == notices  # R6: no email

    # -- unpublishing -----------------------------------------------------------------------
    @precondition(lambda self: any(self.world.published.values()))
    @rule(target=requests, data=st.data(), dated=st.booleans())
    @then_work
    def request_unpublish(self, data: st.DataObject, dated: bool) -> Any:
        version = self.version(data)
        product = self.world.product(version.product_code)
        on = self.some_date(data, product.code) if dated else None
        ask = {"requested_by": REQUESTER if dated else second_manager(product.code).id, "on": on}
        draft = Request(kind=RequestKind.UNPUBLISH, product_code=product.code,
                        version_id=version.id, requested_by="", at=self.world.clock(),
                        unpublish_on=on)  # fmt: skip
        if self.refusal(draft):
            self.refused(UserError, services.request_unpublish, version.id, **ask)
            return None
        return services.request_unpublish(self.core, version.id, **ask)

    @precondition(lambda self: any(self.world.published.values()))
    @rule(target=requests, data=st.data(), dated=st.booleans())
    @then_work
    def request_unpublish_product(self, data: st.DataObject, dated: bool) -> Any:
        code = self.code(data)
        on = self.some_date(data, code) if dated else None
        ask = {"requested_by": REQUESTER if dated else second_manager(code).id, "on": on}
        draft = Request(kind=RequestKind.UNPUBLISH_PRODUCT, product_code=code, requested_by="",
                        at=self.world.clock(), unpublish_on=on)  # fmt: skip
        if self.refusal(draft):
            self.refused(UserError, services.request_unpublish_product, code, **ask)
            return None
        return services.request_unpublish_product(self.core, code, **ask)

    @precondition(lambda self: any(self.world.published.values()))
    @rule(data=st.data())
    @then_work
    def unpublish_from_the_cli(self, data: st.DataObject) -> None:
        version = self.version(data, Status.PUBLISHED, Status.BROKEN)
        if version is None:
            return
        draft = Request(kind=RequestKind.UNPUBLISH, product_code=version.product_code,
                        version_id=version.id, requested_by="", at=self.world.clock())  # fmt: skip
        if self.refusal(draft):
            self.refused(UserError, services.unpublish, version.id, by=OPERATOR)
            return
        services.unpublish(self.core, version.id, by=OPERATOR)

    @precondition(lambda self: any(s.active for s in self.world.schedules()))
    @rule(data=st.data(), as_manager=st.booleans())
    @then_work
    def cancel_scheduled_unpublication(self, data: st.DataObject, as_manager: bool) -> None:
        schedule = data.draw(st.sampled_from([s for s in self.world.schedules() if s.active]))
        if not as_manager:
            self.refused(NotAllowed, services.cancel_unpublication, schedule.id,
                         by=REQUESTER_ACTOR)  # fmt: skip
            return
        services.cancel_unpublication(self.core, schedule.id, by=manager(schedule.product_code))
        self.refused(UserError, services.cancel_unpublication, schedule.id,
                     by=manager(schedule.product_code))  # fmt: skip

    # -- the worker, the calendar and the cloud ---------------------------------------------
    @rule(count=st.integers(1, 20))
    def worker_runs(self, count: int) -> None:
        self.world.run_jobs(count)
        # Failing and slow copies are a fault of the moment: the next copies go well.
        self.world.cloud.fail_copies(False)
        self.world.cloud.copy_delay = 0

    @rule()
    def worker_dies_mid_job(self) -> None:
        """A worker claims a job, does its cloud work, and dies before recording it; the job
        is taken over once its lease runs out."""
        job = self.world.worker.claim()
        if job is None:
            return
        try:
            HANDLERS[job.kind](_JobContext(self.world.worker, job))
        except (CloudError, pipeline.StepFailed):
            pass
        self.world.clock.advance(self.core.settings.job_lease_seconds + 1)

    @rule(count=st.integers(1, 8))
    def cloud_answers_503(self, count: int) -> None:
        self.world.cloud.fail_next(count, status=503)

    @rule()
    def copies_fail(self) -> None:
        """The copies made until the worker's next run end failed."""
        self.world.cloud.fail_copies(True)

    @rule()
    def copies_take_long(self) -> None:
        """The copies made until the worker's next run stay pending until the cloud finishes
        them, or an hour passes."""
        self.world.cloud.copy_delay = 10**6

    @rule()
    def cloud_finishes_copies(self) -> None:
        self.world.cloud.finish_copies()

    @rule()
    def an_hour_passes(self) -> None:
        """Long enough for a pending copy to time out (OMI_COPY_TIMEOUT_SECONDS)."""
        self.world.clock.advance(self.core.settings.copy_timeout_seconds + 1)

    @rule(days=st.integers(1, 3))
    def days_pass(self, days: int) -> None:
        """Reminders and scheduled unpublications come due."""
        self.world.clock.advance(days * 86400)

    # -- drift ------------------------------------------------------------------------------
    @precondition(lambda self: any(self.world.published.values()))
    @rule(data=st.data(), change=st.sampled_from(
        ["delete", "unshare", "share_stranger", "public", "private", "uncode", "untag",
         "delete_with_source"]))  # fmt: skip
    def someone_changes_a_copy_by_hand(self, data: st.DataObject, change: str) -> None:
        version = self.version(data, Status.PUBLISHED)
        if version is None or not version.copy_id:
            return
        edits: dict[str, Any] = {
            "delete": {"delete": True},
            "delete_with_source": {"delete": True},
            "unshare": {"permitted_account_ids": []},
            "share_stranger": {"add_permitted": [STRANGER]},
            "public": {"global_permission": True},
            "private": {"global_permission": False},
            "uncode": {"product_codes": []},
            "untag": {"remove_tags": ["omi-bot:version-id"]},
        }
        if self.world.cloud.image(version.copy_id) is None:
            return
        self.world.cloud.edit_image(version.copy_id, **edits[change])
        if change == "delete_with_source":
            self.world.cloud.edit_image(version.omi_id, delete=True)
            self.world.gone_omis.add(version.omi_id)
        self.world.tampered.add(version.id)

    @precondition(lambda self: self.world.products)
    @rule(data=st.data(), repair=st.booleans())
    @then_work
    def drift_is_checked(self, data: st.DataObject, repair: bool) -> None:
        with self.world.unchanged_if_refused():
            for report in drift.check(self.core):
                self.world.check_findings(report.findings)
                if repair and report.findings:
                    drift.repair(self.core, report.product_code, by=manager(report.product_code))

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def always(self) -> None:
        self.statuses = check_always(self.world, self.statuses)

    def teardown(self) -> None:
        world = self.world
        world.drain()
        self.statuses = check_always(world, self.statuses)
        # What was changed by hand is found and repaired; nothing else is drift.
        for report in drift.check(self.core):
            world.check_findings(report.findings)
            if report.findings:
                drift.repair(self.core, report.product_code, by=manager(report.product_code))
        world.drain()
        self.statuses = check_always(world, self.statuses)
        assert [f.detail for r in drift.check(self.core) for f in r.findings] == []
        check_settled(world)


if not os.environ.get("OMI_HYPOTHESIS_EXAMPLES"):
    # The same sequences on every run, as derandomize would give (which would leave out the
    # kept failures: derandomized runs use no example database).
    seed(20261202)(Operations)


def operations_settings(**overrides: Any) -> settings:
    chosen: dict[str, Any] = {
        "max_examples": EXAMPLES,
        "stateful_step_count": STEPS,
        "deadline": None,
        # The failures found are kept in the repository and replayed first (regressions.py).
        "database": RegressionExamples("Operations"),
        "suppress_health_check": list(HealthCheck),
        "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    }
    return settings(**(chosen | overrides))


def test_random_operations_keep_every_invariant(core: Core, sandbox: SandboxServer) -> None:
    Operations.world = World(core, sandbox.sandbox)
    run_state_machine_as_test(Operations, settings=operations_settings())


def test_the_failures_found_before_are_replayed(core: Core, sandbox: SandboxServer) -> None:
    """Each kept failure runs again, and still holds: a file hypothesis could not read, or a
    key it no longer asks for, would replay nothing and fail here instead of passing unseen."""
    kept = RegressionExamples("Operations").kept()
    assert kept, "no failure is kept in tests/invariants/regressions/"
    Operations.world = World(core, sandbox.sandbox)
    Operations.runs = 0
    run_state_machine_as_test(
        Operations, settings=operations_settings(phases=[Phase.reuse], max_examples=len(kept))
    )
    assert Operations.runs >= len(kept)
