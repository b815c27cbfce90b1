"""Random sequences of everything sellers, release managers, subscribers, the worker and the
cloud do, against a real database and the sandbox over HTTP; after every step the invariants of
checks.py hold, and once the worker has drained the cloud is what the Versions table says.

Each rule also checks its own outcome: what the seed's rules refuse is refused with the rule's
reason and changes nothing; what they allow goes through."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
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

from commands import pipeline, services
from commands.bootstrap import Core
from commands.errors import CloudError, FormErrors, NotAllowed, RuleBroken, UserError
from commands.model import Request, RequestKind, RequestState, Status, VersionForm
from commands.sandbox import SandboxServer
from commands.worker import _JobContext
from tests.conftest import SELLER, SUB_A, SUB_B, SUB_C
from tests.digest import state_digest
from tests.invariants.checks import check_always, check_settled
from tests.invariants.conftest import OMIS_PER_PRODUCT, PRODUCTS, omi_id
from tests.invariants.world import REQUESTER, World, manager

# Bounded in CI; OMI_HYPOTHESIS_EXAMPLES asks for more when looking for trouble.
EXAMPLES = int(os.environ.get("OMI_HYPOTHESIS_EXAMPLES") or 12)
STEPS = int(os.environ.get("OMI_HYPOTHESIS_STEPS") or 30)

codes = st.sampled_from(sorted(PRODUCTS))
F = TypeVar("F", bound=Callable[..., Any])


def then_work(rule_body: F) -> F:
    """The worker goes on while people act: after the rule, a few jobs, or none. After, not
    before: what a step changed (a subscription) is what the worker's notices then follow."""

    @functools.wraps(rule_body)
    def wrapper(self: Operations, **kwargs: Any) -> Any:
        result = rule_body(self, **kwargs)
        self.world.run_jobs(kwargs["data"].draw(st.integers(0, 6), label="jobs meanwhile"))
        return result

    return wrapper  # type: ignore[return-value]
omis = st.integers(0, OMIS_PER_PRODUCT - 1)


class Operations(RuleBasedStateMachine):
    world: World  # set by the test

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.world.reset()
        self.statuses: dict[str, Status] = {}

    # -- helpers ----------------------------------------------------------------------------
    @property
    def core(self) -> Core:
        return self.world.core

    def expect_refused(self, error: type[UserError], action: Any, *args: Any, **kw: Any) -> None:
        """The operation is refused with `error` and nothing changes."""
        before = state_digest(self.core)
        with self.world.unchanged_if_refused():
            with pytest.raises(error):
                action(self.core, *args, **kw)
            assert state_digest(self.core) == before

    def pick_version(self, data: st.DataObject, *statuses: Status) -> Any:
        versions = [v for v in self.world.versions() if not statuses or v.status in statuses]
        if not versions:
            return None
        return data.draw(st.sampled_from(versions), label="version")

    # -- products and subscribers -----------------------------------------------------------
    @initialize(code=codes)
    def first_product(self, code: str) -> None:
        self.add_product(code)

    @rule(code=codes)
    def add_product(self, code: str) -> None:
        services.save_product(
            self.core, code=code, name=f"Product {code}", seller_account_id=SELLER,
            pricing=PRODUCTS[code], release_managers=[manager(code)], approval_channel="CREL",
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
        code = data.draw(st.sampled_from(sorted(self.world.products)))
        added = services.subscribe(self.core, account, code)
        assert added == ((account, code) not in self.world.subscribed)
        self.world.subscribed.add((account, code))

    @precondition(lambda self: self.world.products)
    @rule(data=st.data(), account=st.sampled_from([SUB_A, SUB_B]))
    @then_work
    def unsubscribe(self, data: st.DataObject, account: str) -> None:
        code = data.draw(st.sampled_from(sorted(self.world.products)))
        removed = services.unsubscribe(self.core, account, code)
        assert removed == ((account, code) in self.world.subscribed)
        self.world.subscribed.discard((account, code))

    # -- publishing -------------------------------------------------------------------------
    def omi_free(self, omi: str) -> bool:
        return all(v.omi_id != omi or v.status is Status.FAILED for v in self.world.versions())

    @precondition(lambda self: self.world.products)
    @rule(target=requests, data=st.data(), index=omis, note=st.text(min_size=1, max_size=30))
    @then_work
    def request_publication(self, data: st.DataObject, index: int, note: str) -> Any:
        code = data.draw(st.sampled_from(sorted(self.world.products)))
        omi = omi_id(code, index)
        form = VersionForm(omi=omi, release_note=note, software_version=str(index))
        if not note.strip():
            self.expect_refused(FormErrors, services.request_publication, code, form,
                                requested_by=REQUESTER)  # fmt: skip
            return None
        if not self.omi_free(omi):  # R5: a new version needs a new OMI
            self.expect_refused(FormErrors, services.request_publication, code, form,
                                requested_by=REQUESTER)  # fmt: skip
            return None
        with self.world.unchanged_if_refused():
            return services.request_publication(self.core, code, form, requested_by=REQUESTER)
        return None

    @precondition(lambda self: self.world.products)
    @rule(data=st.data())
    def request_publication_of_an_omi_that_may_not_be(self, data: st.DataObject) -> None:
        code = data.draw(st.sampled_from(sorted(self.world.products)))
        other = next(c for c in PRODUCTS if c != code)
        omi = data.draw(st.sampled_from(["ami-0000ffff", "ami-9999ffff", omi_id(other, 0)]))
        form = VersionForm(omi=omi, release_note="n")
        self.expect_refused(FormErrors, services.request_publication, code, form,
                            requested_by=REQUESTER)  # fmt: skip

    @rule(data=st.data(), request=consumes(requests), by_other=st.booleans())
    @then_work
    def approve(self, data: st.DataObject, request: Request | None, by_other: bool) -> None:
        if request is None:
            return
        if by_other:
            # A release manager of another product, or the requester: refused, nothing changes.
            stranger = next(manager(c) for c in PRODUCTS if c != request.product_code)
            self.expect_refused(NotAllowed, services.approve, request.id, by=stranger)
            self.expect_refused(NotAllowed, services.approve, request.id, by=REQUESTER)
        expected = self.expected_refusal(request)
        by = manager(request.product_code)
        if expected is not None:
            with self.world.unchanged_if_refused():
                with pytest.raises(expected):
                    services.approve(self.core, request.id, by=by)
                assert services.get_request(self.core, request.id).state is RequestState.FAILED
            return
        with self.world.unchanged_if_refused():
            decision = services.approve(self.core, request.id, by=by)
            assert decision.request.state is RequestState.APPROVED
            if request.kind is RequestKind.UNPUBLISH_PRODUCT:
                self.world.unpublishing.add(request.product_code)
            # Deciding twice is refused and changes nothing (a double click, a Slack retry).
            self.expect_refused(UserError, services.approve, request.id, by=by)

    def expected_refusal(self, request: Request) -> type[UserError] | None:
        """What the rules say of this request now, at approval time."""
        product = self.world.product(request.product_code)
        published = product.published_versions()
        if request.kind is RequestKind.PUBLISH:
            return None if self.omi_free(str(request.form["omi"])) else FormErrors
        if request.kind is RequestKind.UNPUBLISH:
            version = product.version(str(request.version_id))
            ok = version.status is Status.PUBLISHED and len(published) > 1
            return None if ok else RuleBroken
        publishing = any(v.status is Status.PUBLISHING for v in product.versions)
        return None if published and not publishing else RuleBroken

    @rule(request=consumes(requests), reason=st.text(max_size=20))
    def reject(self, request: Request | None, reason: str) -> None:
        if request is None:
            return
        by = manager(request.product_code)
        if not reason.strip():
            self.expect_refused(FormErrors, services.reject, request.id, by=by, reason=reason)
            return
        rejected = services.reject(self.core, request.id, by=by, reason=reason)
        assert rejected.state is RequestState.REJECTED

    @precondition(lambda self: self.world.products)
    @rule(data=st.data(), index=omis)
    @then_work
    def publish_from_the_cli(self, data: st.DataObject, index: int) -> None:
        code = data.draw(st.sampled_from(sorted(self.world.products)))
        omi = omi_id(code, index)
        form = VersionForm(omi=omi, release_note="from a pipeline")
        if not self.omi_free(omi):
            self.expect_refused(FormErrors, services.publish, code, form, requested_by="ci")
            return
        with self.world.unchanged_if_refused():
            services.publish(self.core, code, form, requested_by="ci")

    @precondition(lambda self: any(self.world.published.values()))
    @rule(data=st.data(), note=st.text(min_size=1, max_size=30))
    @then_work
    def modify(self, data: st.DataObject, note: str) -> None:
        version = self.pick_version(data)
        if version is None:
            return
        form = VersionForm(release_note=note, software_version="modified")
        if version.status is not Status.PUBLISHED:  # R6
            self.expect_refused(RuleBroken, services.modify, version.id, form, by="U")
            return
        if not note.strip():
            self.expect_refused(FormErrors, services.modify, version.id, form, by="U")
            return
        notices = len(state_digest(self.core)["outbox"])
        services.modify(self.core, version.id, form, by="U")
        assert len(state_digest(self.core)["outbox"]) == notices  # R6: no email

    # -- unpublishing -----------------------------------------------------------------------
    @precondition(lambda self: any(self.world.published.values()))
    @rule(target=requests, data=st.data())
    @then_work
    def request_unpublish(self, data: st.DataObject) -> Any:
        version = self.pick_version(data)
        if version is None:
            return None
        product = self.world.product(version.product_code)
        if version.status is not Status.PUBLISHED or len(product.published_versions()) == 1:
            self.expect_refused(RuleBroken, services.request_unpublish, version.id,
                                requested_by=REQUESTER)  # fmt: skip
            return None
        return services.request_unpublish(self.core, version.id, requested_by=REQUESTER)

    @precondition(lambda self: any(self.world.published.values()))
    @rule(target=requests, data=st.data())
    @then_work
    def request_unpublish_product(self, data: st.DataObject) -> Any:
        code = data.draw(st.sampled_from(sorted(self.world.products)))
        product = self.world.product(code)
        publishing = any(v.status is Status.PUBLISHING for v in product.versions)
        if not product.published_versions() or publishing:
            self.expect_refused(RuleBroken, services.request_unpublish_product, code,
                                requested_by=REQUESTER)  # fmt: skip
            return None
        return services.request_unpublish_product(self.core, code, requested_by=REQUESTER)

    @precondition(lambda self: any(self.world.published.values()))
    @rule(data=st.data())
    @then_work
    def unpublish_from_the_cli(self, data: st.DataObject) -> None:
        version = self.pick_version(data, Status.PUBLISHED)
        if version is None:
            return
        if len(self.world.product(version.product_code).published_versions()) == 1:  # R7
            self.expect_refused(RuleBroken, services.unpublish, version.id, by="ci")
            return
        services.unpublish(self.core, version.id, by="ci")

    # -- the worker and the cloud -----------------------------------------------------------
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
            pipeline.HANDLERS[job.kind](_JobContext(self.world.worker, job))
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

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def always(self) -> None:
        self.statuses = check_always(self.world, self.statuses)

    def teardown(self) -> None:
        self.world.drain()
        self.statuses = check_always(self.world, self.statuses)
        check_settled(self.world)


def test_random_operations_keep_every_invariant(
    core: Core, sandbox: SandboxServer
) -> None:
    Operations.world = World(core, sandbox.sandbox)
    run_state_machine_as_test(
        Operations,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=not os.environ.get("OMI_HYPOTHESIS_EXAMPLES"),
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
        ),
    )
