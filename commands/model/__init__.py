"""The domain, as the seed tells it: a product, its Versions table, the Version form, the
release managers' approvals and the subscribers the notices go to.

Plain Python: storage maps these classes to tables (storage/orm.py), nothing here knows about it.
Every method that enforces one of DESIGN.md's rules names it (R1–R9). The package's modules follow
the seed's words; this module is their one public face."""

from commands.model.approvals import (
    CLI_PREFIX,
    MAX_REQUESTER_NAME,
    Actor,
    Request,
    RequestKind,
    RequestState,
    check_idempotency_key,
    slack_user_id,
)
from commands.model.drift import Difference, DriftKind, Finding, Seen, compare
from commands.model.names import (
    NAME_MAX,
    check_name,
    check_slack_channel,
    check_slack_group,
    check_slack_user,
)
from commands.model.product import LIVE, Excerpt, PartialTable, Product
from commands.model.schedules import Due, ScheduleState, Unpublication
from commands.model.subscribers import Organization, Subscriber, Subscription
from commands.model.versions import (
    ACCOUNT_ID,
    LIMITS,
    MAX_SOFTWARE_BASE,
    OMI_ID,
    PRODUCT_CODE,
    VERSION_ID,
    VERSION_TAG,
    Omi,
    Pricing,
    Status,
    Version,
    VersionForm,
    check_account_id,
    check_product_code,
    new_version_id,
    now,
    typed,
)
from commands.model.work import Heartbeat, Job, JobState, OutboxItem, OutboxState

__all__ = [
    "ACCOUNT_ID",
    "CLI_PREFIX",
    "LIMITS",
    "LIVE",
    "MAX_REQUESTER_NAME",
    "MAX_SOFTWARE_BASE",
    "NAME_MAX",
    "OMI_ID",
    "PRODUCT_CODE",
    "VERSION_ID",
    "VERSION_TAG",
    "Actor",
    "Difference",
    "DriftKind",
    "Due",
    "Excerpt",
    "Finding",
    "Heartbeat",
    "Job",
    "JobState",
    "Omi",
    "Organization",
    "OutboxItem",
    "OutboxState",
    "PartialTable",
    "Pricing",
    "Product",
    "Request",
    "RequestKind",
    "RequestState",
    "ScheduleState",
    "Seen",
    "Status",
    "Subscriber",
    "Subscription",
    "Unpublication",
    "Version",
    "VersionForm",
    "check_account_id",
    "check_idempotency_key",
    "check_name",
    "check_product_code",
    "check_slack_channel",
    "check_slack_group",
    "check_slack_user",
    "compare",
    "new_version_id",
    "now",
    "slack_user_id",
    "typed",
]
