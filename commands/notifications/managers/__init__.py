"""What the worker tells a product's release managers in Slack, in their approval channel (or
by direct message when the product has none): a scheduled unpublication that R7 held back or
that ran late, drift between the Versions table and the cloud, a version found broken; and, in
the thread of the request when the version came through Slack, a mail that failed for good, a
copy that cannot be deleted yet, a copy the cloud lost.

The messages are written when the event happens, in the transaction that records it, and
posted from the outbox as they are. Their buttons name actions the bot listens to.

The package's modules follow the events (schedules, drift, retention, trouble), with the wording
and the posting they share; this module is their one public face."""

from commands.notifications.managers.drift import (
    REPAIR_ACTION,
    broken_message,
    drift_found,
    drift_message,
    version_broken,
)
from commands.notifications.managers.messages import TEXTS, Message, text
from commands.notifications.managers.posting import PREFIX, Thread, post, request_thread
from commands.notifications.managers.retention import (
    APPROVE_ACTION,
    PREVIEW_ACTION,
    REJECT_ACTION,
    retention_message,
    retention_request,
)
from commands.notifications.managers.schedules import (
    CANCEL_SCHEDULE_ACTION,
    blocked_by_r7,
    blocked_message,
    cancel_button,
    late_message,
    ran_late,
    scheduled_blocks,
)
from commands.notifications.managers.trouble import (
    copy_gone,
    deletion_stuck,
    mail_failed,
    trouble_message,
)

__all__ = [
    "APPROVE_ACTION",
    "CANCEL_SCHEDULE_ACTION",
    "PREFIX",
    "PREVIEW_ACTION",
    "REJECT_ACTION",
    "REPAIR_ACTION",
    "TEXTS",
    "Message",
    "Thread",
    "blocked_by_r7",
    "blocked_message",
    "broken_message",
    "cancel_button",
    "copy_gone",
    "deletion_stuck",
    "drift_found",
    "drift_message",
    "late_message",
    "mail_failed",
    "post",
    "ran_late",
    "request_thread",
    "retention_message",
    "retention_request",
    "scheduled_blocks",
    "text",
    "trouble_message",
    "version_broken",
]
