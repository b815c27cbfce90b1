"""Subscribers: OUTSCALE accounts subscribed to products, and the organizations whose language and
administrators the notices follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from commands.model.versions import now


@dataclass
class Organization:
    """A subscriber's organization: its language and its administrators get the notices."""

    name: str
    language: str = "en"
    admin_emails: list[str] = field(default_factory=list)
    id: int | None = None


@dataclass
class Subscriber:
    """An OUTSCALE account subscribed to products."""

    account_id: str
    organization_id: int
    email: str
    slack_channel: str | None = None


@dataclass
class Subscription:
    account_id: str
    product_code: str
    created_at: datetime = field(default_factory=now)
