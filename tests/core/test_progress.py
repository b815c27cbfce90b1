"""Progress of a publication goes to the Slack thread of its request, never for CLI ones."""

from __future__ import annotations

from collections.abc import Callable

from commands import services
from commands.bootstrap import Core
from commands.model import Actor, VersionForm
from tests.conftest import OMI_1, OMI_2


def _progress(core: Core, version_id: str) -> list[tuple[str, str, dict[str, object]]]:
    with core.uow() as uow:
        items = uow.outbox.list(channel="slack", version_id=version_id)
        return sorted(
            (i.event, i.recipient, i.payload) for i in items if i.event.startswith("progress_")
        )


def test_slack_request_gets_progress_in_its_thread(
    core: Core, product: str, subscribers: list[str], drain: Callable[..., None]
) -> None:
    form = VersionForm(omi=OMI_1, software_version="1.0", release_note="First")
    request = services.request_publication(core, product, form, requested_by="UREQ")
    services.record_surface(core, request.id, {"channel": "CREL", "ts": "1.000100", "lang": "fr"})
    decision = services.approve(core, request.id, by=Actor.slack_user("URM1"))
    drain()
    version_id = decision.versions[0].id
    progress = _progress(core, version_id)
    assert [e for e, _, _ in progress] == [
        "progress_copied",
        "progress_published",
        "progress_sharing",
    ]
    for _, recipient, payload in progress:
        assert recipient == "CREL"
        assert payload["thread_ts"] == "1.000100"
        assert payload["notify_user"] == "UREQ"
    published = dict((e, p) for e, _, p in progress)["progress_published"]
    assert "est publiée" in str(published["text"])


def test_cli_publication_reports_nothing_to_slack(
    core: Core, product: str, drain: Callable[..., None]
) -> None:
    version = services.publish(
        core, product, VersionForm(omi=OMI_2, release_note="CLI"), requested_by="ops"
    )
    drain()
    assert _progress(core, version.id) == []
