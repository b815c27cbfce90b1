"""What subscribers, organization administrators and Slack channels are told, written to the
outbox in the transaction of the event itself (R4, R8, R9, R10)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from commands.model import Product, Version
from storage.uow import UnitOfWork


def version_published(uow: UnitOfWork, product: Product, version: Version, at: datetime) -> None:
    """R4: subscribers and organization administrators are advised to upgrade."""


def versions_unpublished(
    uow: UnitOfWork,
    product: Product,
    versions: Sequence[Version],
    at: datetime,
    *,
    whole_product: bool,
) -> None:
    """R8, R9: the OMI copies are gone, running VMs keep running."""
