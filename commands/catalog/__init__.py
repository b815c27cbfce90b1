"""The catalog file: products, organizations and subscribers described in one TOML file and
applied idempotently (`omi-bot catalog apply FILE`).

The whole file is checked before anything is written, so a bad file changes nothing and is
answered with one line naming the file and the problem. Applying adds and updates; it never
removes a product, an organization, a subscriber or a subscription the file does not mention
(a partial file must not revoke anyone's access): removals go through the CLI.

file.py reads and checks the file on its own, applying.py brings the database to it; this module
is their one public face."""

from commands.catalog.applying import apply
from commands.catalog.file import (
    Catalog,
    OrganizationEntry,
    ProductEntry,
    SubscriberEntry,
    load,
    parse,
)

__all__ = [
    "Catalog",
    "OrganizationEntry",
    "ProductEntry",
    "SubscriberEntry",
    "apply",
    "load",
    "parse",
]
