"""The outbox's deliverers the worker runs on every tick: email, and Slack announcements when
the bot's token is configured."""

from __future__ import annotations

from collections.abc import Callable

from commands.bootstrap import Core
from commands.notifications.slack import slack_deliverer_from_env


def deliverers(core: Core, worker_name: str) -> list[Callable[[], int]]:
    # Slack posts only when SLACK_BOT_TOKEN is set; mail never depends on Slack.
    return [*slack_deliverer_from_env(core, worker_name)]
