"""The operations, as the seed's page offers them: read the Versions table, open the Version
form, publish, modify, unpublish a version, unpublish a product; and the release managers'
approvals and the subscriptions around them.

Each operation checks the rules, then writes the new state and the jobs it implies in one
transaction. Cloud reads happen before the transaction so no lock is held while OUTSCALE
answers; the rules are checked again under the lock. The package's modules follow the seed's
words; this module is their one public face."""

from commands.services.approvals import (
    Decision,
    approve,
    awaiting_approval,
    check_decision,
    check_reason,
    check_request,
    get_request,
    record_surface,
    reject,
    release_manager_groups,
    request_publication,
    request_unpublish,
    request_unpublish_product,
    requests_of,
)
from commands.services.products import (
    ProductLine,
    VersionDetails,
    VersionsTable,
    find_omi,
    get_product,
    get_version,
    is_settled,
    list_products,
    new_form,
    save_product,
    selectable_omis,
    show_version,
    versions_table,
)
from commands.services.publication import (
    check_publication,
    modify,
    open_modification,
    publish,
    start_publication,
)
from commands.services.subscribers import (
    Audience,
    audience,
    check_email,
    remove_subscriber,
    save_organization,
    save_subscriber,
    subscribe,
    unsubscribe,
)
from commands.services.unpublication import (
    unpublish,
    unpublish_one,
    unpublish_product,
    unpublish_whole,
)

__all__ = [
    "Audience",
    "Decision",
    "ProductLine",
    "VersionDetails",
    "VersionsTable",
    "approve",
    "audience",
    "awaiting_approval",
    "check_decision",
    "check_email",
    "check_publication",
    "check_reason",
    "check_request",
    "find_omi",
    "get_product",
    "get_request",
    "get_version",
    "is_settled",
    "list_products",
    "modify",
    "new_form",
    "open_modification",
    "publish",
    "record_surface",
    "reject",
    "release_manager_groups",
    "remove_subscriber",
    "request_publication",
    "request_unpublish",
    "request_unpublish_product",
    "requests_of",
    "save_organization",
    "save_product",
    "save_subscriber",
    "selectable_omis",
    "show_version",
    "start_publication",
    "subscribe",
    "unpublish",
    "unpublish_one",
    "unpublish_product",
    "unpublish_whole",
    "unsubscribe",
    "versions_table",
]
