"""The outbox's deliverers the worker runs on every tick: email, and Slack announcements when
the bot's token is configured."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack

from commands.bootstrap import Core
from commands.errors import UserError
from commands.notifications.outbox import deliver_mail, open_transport, unavailable
from commands.notifications.slack import slack_deliverer_from_env
from commands.notifications.transport import Transport

log = logging.getLogger("omi_bot.worker")


def deliverers(
    core: Core, worker_name: str, stopping: Callable[[], bool] = lambda: False
) -> list[Callable[[], int]]:
    """`stopping()` turning true makes a batch under way give back what it has not sent."""
    told: set[str] = set()
    # One SMTP connection per worker, kept from one tick to the next while there is mail to
    # send, closed when there is none (or the server could not be reached, to try afresh).
    kept: list[Transport] = []
    stack = ExitStack()

    def mail() -> int:
        try:
            if not kept:
                kept.append(stack.enter_context(open_transport(core.settings)))
            handled = deliver_mail(core, worker_name, stopping=stopping, transport=kept[0])
        except UserError as bad:
            # A configuration the operator must fix (OMI_SMTP_URL): the mails wait, untouched.
            # Said once, not on every tick.
            if str(bad) not in told:
                told.add(str(bad))
                log.error("mail not sent: %s", bad)
            return 0
        if not handled or stopping() or unavailable(kept[0]) is not None:
            kept.clear()
            stack.close()
        return handled

    # Slack posts only when SLACK_BOT_TOKEN is set; mail never depends on Slack.
    return [mail, *slack_deliverer_from_env(core, worker_name, stopping=stopping)]
