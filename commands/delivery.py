"""The outbox's deliverers the worker runs on every tick: email, and Slack announcements when
the bot's token is configured."""

from __future__ import annotations

import logging
from collections.abc import Callable

from commands.bootstrap import Core
from commands.errors import UserError
from commands.notifications.outbox import deliver_mail
from commands.notifications.slack import slack_deliverer_from_env

log = logging.getLogger("omi_bot.worker")


def deliverers(
    core: Core, worker_name: str, stopping: Callable[[], bool] = lambda: False
) -> list[Callable[[], int]]:
    """`stopping()` turning true makes a batch under way give back what it has not sent."""
    told: set[str] = set()

    def mail() -> int:
        try:
            return deliver_mail(core, worker_name, stopping=stopping)
        except UserError as bad:
            # A configuration the operator must fix (OMI_SMTP_URL): the mails wait, untouched.
            # Said once, not on every tick.
            if str(bad) not in told:
                told.add(str(bad))
                log.error("mail not sent: %s", bad)
            return 0

    # Slack posts only when SLACK_BOT_TOKEN is set; mail never depends on Slack.
    return [mail, *slack_deliverer_from_env(core, worker_name, stopping=stopping)]
