"""Where a publication or an unpublication stands, told to the people who asked (the request's
Slack thread and its requester), written to the outbox in the step's own transaction."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from commands.model import Version
from storage.uow import UnitOfWork


class Stage(StrEnum):
    COPIED = "copied"  # the OMI copy exists, waiting until it is available
    SHARING = "sharing"  # available, being shared with the subscribers
    PUBLISHED = "published"
    FAILED = "failed"
    DELETED = "deleted"  # an unpublished version's copy is gone from the cloud


def stage(
    uow: UnitOfWork, version: Version, reached: Stage, at: datetime, detail: str = ""
) -> None:
    """Called by the pipeline each time a version reaches a stage."""
