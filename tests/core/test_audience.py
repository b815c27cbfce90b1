"""The impact shown to release managers: subscriber accounts and distinct mail recipients."""

from __future__ import annotations

import pytest

from commands import services
from commands.bootstrap import Core
from commands.errors import NotFound


def test_audience_counts_accounts_and_distinct_recipients(
    core: Core, product: str, subscribers: list[str]
) -> None:
    assert services.audience(core, product) == services.Audience(accounts=2, recipients=4)
    # An administrator who is also a subscriber's contact is mailed once, so counted once.
    services.save_organization(
        core, name="Acme", language="fr", admin_emails=["admin@acme.example", "OPS@acme.example"]
    )
    assert services.audience(core, product) == services.Audience(accounts=2, recipients=4)


def test_audience_of_unknown_product(core: Core) -> None:
    with pytest.raises(NotFound):
        services.audience(core, "nope")
