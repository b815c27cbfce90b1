"""What a person names things with: Slack IDs, never Slack names (a release manager renamed in
Slack stays one, and a channel renamed keeps its announcements), and the names of products and
organizations, which fit their column and are never empty."""

from __future__ import annotations

import re

from commands.errors import UserError, quoted
from commands.model.versions import typed

SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,31}$")
SLACK_GROUP = re.compile(r"^S[A-Z0-9]{2,31}$")
SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,31}$")
NAME_MAX = 200  # products.name and organizations.name are VARCHAR(200)


def check_name(name: str, what: str) -> str:
    name = typed(name).strip()
    if not name:
        raise UserError(f"A {what} needs a name.")
    if len(name) > NAME_MAX:
        raise UserError(f"A {what} name is {NAME_MAX} characters at most.")
    return name


def check_slack_user(user: str) -> str:
    if not SLACK_USER.match(user):
        raise UserError(f"{quoted(user)} is not a Slack user ID (like U0123456789).")
    return user


def check_slack_group(group: str) -> str:
    if not SLACK_GROUP.match(group):
        raise UserError(f"{quoted(group)} is not a Slack user group ID (like S0123456789).")
    return group


def check_slack_channel(channel: str) -> str:
    channel = channel.strip()
    if not SLACK_CHANNEL.match(channel):
        raise UserError(
            f"{quoted(channel)} is not a Slack channel ID (like C0123456789): use the channel's "
            "ID, not its name."
        )
    return channel
