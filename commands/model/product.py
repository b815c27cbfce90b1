"""A product and its Versions table: which OMIs may be published, the last available version,
publishing (R2–R5), unpublishing a version (R7, R8) or the whole product (R9), and who
approves (the release managers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from commands.errors import FormErrors, NotAllowed, NotFound, RuleBroken, UserError, quoted
from commands.model.names import (
    check_name,
    check_slack_channel,
    check_slack_group,
    check_slack_user,
)
from commands.model.versions import (
    Omi,
    Pricing,
    Status,
    Version,
    VersionForm,
    check_account_id,
    check_product_code,
    new_version_id,
    typed,
)

if TYPE_CHECKING:
    from commands.model.approvals import Actor

DEFAULT_NOTICE_DAYS = 30
DEFAULT_REMINDER_DAYS = (7, 1)
MAX_NOTICE_DAYS = 365
MAX_SCHEDULE_DAYS = 730
# The versions that still count for the rules of unpublication (R7, R9) and the last
# available version; unpublished and failed ones are history.
LIVE = (Status.PUBLISHED, Status.PUBLISHING, Status.BROKEN)


@dataclass(frozen=True)
class Excerpt:
    """The rows of a Versions table that a reading needs, when the whole table need not be
    read: the last created version always (R3); the versions holding one of `omis` (R5);
    the version `version_id` (a request's); with `live`, every version in LIVE (R7, R9)."""

    omis: frozenset[str] = frozenset()
    version_id: str | None = None
    live: bool = False

    @classmethod
    def of_form(cls, form: VersionForm, *omis: str) -> Excerpt:
        """What checking a Version form reads (R3, R5): its OMI as typed and as cleaned, and
        `omis` (the ID of an OMI typed by its name)."""
        return cls(omis=frozenset({form.omi, typed(form.omi).strip(), *omis}))


class PartialTable(RuntimeError):
    """A rule asked for rows of the Versions table its excerpt did not read: a bug of the
    caller, never the user's."""


class Product:
    """An OMI product and its Versions table."""

    code: str
    name: str
    seller_account_id: str
    pricing: Pricing
    created_at: datetime
    modified_at: datetime
    release_managers: list[str]
    release_manager_group: str | None
    approval_channel: str | None
    # How many days in advance subscribers are told of an unpublication; 0 lets a release
    # manager unpublish at once.
    notice_days: int
    # Reminders, in days before the date of a scheduled unpublication.
    reminder_days: list[int]
    # Retention: publishing beyond this many published versions proposes to unpublish the
    # oldest ones (None: keep them all).
    keep_published: int | None
    versions: list[Version]
    # How many rows the Versions table has, kept with the product so that the table can say
    # it without counting them: versions are only ever added, by publish().
    version_count: int
    # Set when `versions` holds only an excerpt of the table (storage reads it so for the
    # Version form and the request messages, whose time must not grow with the table).
    excerpt: Excerpt | None = None

    def __init__(
        self,
        *,
        code: str,
        name: str,
        seller_account_id: str,
        pricing: Pricing,
        at: datetime,
        release_managers: Iterable[str] = (),
        release_manager_group: str | None = None,
        approval_channel: str | None = None,
        notice_days: int = DEFAULT_NOTICE_DAYS,
        reminder_days: Sequence[int] = DEFAULT_REMINDER_DAYS,
        keep_published: int | None = None,
    ) -> None:
        self.code = check_product_code(code)
        self.seller_account_id = check_account_id(seller_account_id)
        self.pricing = pricing
        self.created_at = at
        self.modified_at = at
        self.describe(name, release_managers, release_manager_group, approval_channel)
        self.notice_days = DEFAULT_NOTICE_DAYS
        self.reminder_days = list(DEFAULT_REMINDER_DAYS)
        self.keep_published = None
        self.set_schedule(notice_days, reminder_days, keep_published)
        self.versions = []
        self.version_count = 0

    def describe(
        self,
        name: str,
        release_managers: Iterable[str],
        release_manager_group: str | None,
        approval_channel: str | None,
    ) -> None:
        """Its name and who approves its requests, where: Slack IDs, checked before any is
        kept, so that a refused description leaves the product as it was."""
        name = check_name(name, "product")
        managers = [check_slack_user(user.strip()) for user in release_managers]
        group = check_slack_group(release_manager_group.strip()) if release_manager_group else None
        channel = check_slack_channel(approval_channel) if approval_channel else None
        self.name = name
        self.release_managers = managers
        self.release_manager_group = group
        self.approval_channel = channel

    def set_schedule(
        self, notice_days: int, reminder_days: Sequence[int], keep_published: int | None
    ) -> None:
        """The product's notice period, reminder cadence and retention, checked together."""
        if not 0 <= notice_days <= MAX_NOTICE_DAYS:
            raise UserError(f"The notice period is 0 to {MAX_NOTICE_DAYS} days, not {notice_days}.")
        days = sorted(set(reminder_days), reverse=True)
        if any(not 1 <= d <= MAX_NOTICE_DAYS for d in days):
            raise UserError(f"Reminders are sent 1 to {MAX_NOTICE_DAYS} days before the date.")
        if keep_published is not None and keep_published < 1:
            raise UserError("keep_published is at least 1 (or unset to keep every version).")
        self.notice_days = notice_days
        self.reminder_days = days
        self.keep_published = keep_published

    def _whole(self, what: str) -> list[Version]:
        if self.excerpt is not None:
            raise PartialTable(f"{what} reads all of product {self.code}'s Versions table")
        return self.versions

    def _live(self, what: str) -> list[Version]:
        """The versions in LIVE (and others, when the whole table is read)."""
        if self.excerpt is not None and not self.excerpt.live:
            raise PartialTable(f"{what} reads the live versions of product {self.code}")
        return self.versions

    # R1 -- the Versions table
    def versions_table(self) -> list[Version]:
        """Newest first, as the Marketplace lists them."""
        return sorted(
            self._whole("The Versions table"), key=lambda v: (v.created_at, v.id), reverse=True
        )

    def version(self, version_id: str) -> Version:
        for v in self.versions:
            if v.id == version_id:
                return v
        if self.excerpt is not None and self.excerpt.version_id != version_id:
            raise PartialTable(f"Version {version_id} was not read with product {self.code}")
        raise NotFound(f"Product {self.code} has no version {version_id}.")

    def published_versions(self) -> list[Version]:
        return [v for v in self._live("Published versions") if v.status is Status.PUBLISHED]

    def last_available_version(self, without: Iterable[str] = ()) -> Version | None:
        """The newest published version; with `without`, as it will be once those go."""
        gone = set(without)
        published = [v for v in self.published_versions() if v.id not in gone]
        if not published:
            return None
        return max(published, key=lambda v: (v.published_at or v.created_at, v.id))

    def last_created_version(self) -> Version | None:
        if not self.versions:
            return None
        return max(self.versions, key=lambda v: (v.created_at, v.id))

    # R3 -- a new Version form starts from the last created version
    def new_form(self) -> VersionForm:
        last = self.last_created_version()
        if last is None:
            return VersionForm()
        # The OMI and the release note belong to each version: a new form starts without them.
        return replace(last.form(), omi="", release_note="")

    def complete(self, form: VersionForm) -> VersionForm:
        """R3: the fields a form leaves empty come from the last created version; the release
        note is the new version's own."""
        defaults = self.new_form()
        return VersionForm(
            omi=form.omi,
            software_version=form.software_version or defaults.software_version,
            operating_system=form.operating_system or defaults.operating_system,
            software_base=form.software_base or defaults.software_base,
            release_note=form.release_note,
            instructions=form.instructions or defaults.instructions,
        )

    # R2, R5 -- which OMIs may be published
    def selectable(self, omi: Omi) -> bool:
        return (
            omi.account_id == self.seller_account_id
            and self.code in omi.product_codes
            and omi.state == "available"
        )

    def version_using(self, omi_id: str) -> Version | None:
        """A version whose OMI this is; failed attempts don't hold their OMI."""
        if self.excerpt is not None and omi_id not in self.excerpt.omis:
            raise PartialTable(f"The versions holding {omi_id} were not read")
        for v in self.versions:
            if v.omi_id == omi_id and v.status is not Status.FAILED:
                return v
        return None

    def form_errors(self, form: VersionForm) -> tuple[VersionForm, dict[str, str]]:
        """What the form shows wrong by itself and against the Versions table, without asking
        the cloud: the fields (R3) and an OMI that is already a version's (R5)."""
        errors: dict[str, str] = {}
        try:
            form = form.cleaned()
        except FormErrors as bad:
            errors.update(bad.fields)
        if not form.omi:
            errors["omi"] = "Pick the OMI to publish."
        else:
            self._check_unused(form.omi, errors)
        return form, errors

    def _check_unused(self, omi_id: str, errors: dict[str, str]) -> None:
        holder = self.version_using(omi_id)
        if holder is not None:
            errors["omi"] = (
                f"OMI {omi_id} is already the OMI of version {holder.id} "
                f"({holder.software_version or 'no software version'}); a new version needs "
                "a new OMI (R5)."
            )

    def check_form(self, form: VersionForm) -> VersionForm:
        """`form_errors` as one FormErrors, for answering a form before the cloud is asked."""
        form, errors = self.form_errors(form)
        if errors:
            raise FormErrors(errors)
        return form

    def check_publishable(self, form: VersionForm, omi: Omi | None) -> VersionForm:
        """Everything a publication needs before anyone approves it. Collects the form's
        errors and the OMI's in one FormErrors so a modal can show them all at once."""
        form, errors = self.form_errors(form)
        if "omi" in errors or not form.omi:
            pass
        elif omi is None:
            errors["omi"] = (
                f"No OMI {quoted(form.omi)} is visible to the seller account "
                f"{self.seller_account_id}."
            )
        elif not self.selectable(omi):
            errors["omi"] = (
                f"OMI {omi.image_id} cannot be published for product {self.code}: only available "
                f"OMIs created by account {self.seller_account_id} and carrying product code "
                f"{self.code} can (R2)."
            )
        else:
            self._check_unused(omi.image_id, errors)
        if errors:
            raise FormErrors(errors)
        return form

    def publish(
        self,
        form: VersionForm,
        omi: Omi | None,
        *,
        requested_by: str,
        approved_by: str | None,
        at: datetime,
    ) -> Version:
        """R2–R5: a new version, publishing."""
        merged = self.check_publishable(self.complete(form), omi)
        assert omi is not None  # check_publishable refused a missing OMI
        version = Version(
            id=new_version_id(),
            product_code=self.code,
            omi=omi,
            form=merged,
            requested_by=requested_by,
            approved_by=approved_by,
            at=at,
        )
        self._whole("Publishing").append(version)
        self.version_count = len(self.versions)
        return version

    def publication_done(self, version: Version, at: datetime) -> None:
        """R4: publication updates the product's modification date and last available
        version (derived from the published versions)."""
        version.published(at)
        self.modified_at = at

    # R7, R8 -- unpublish one version
    def check_unpublishable(self, version: Version) -> None:
        if version.status is Status.BROKEN:
            return  # no copy to delete, and it counts for nobody (R7 is about published ones)
        if version.status is not Status.PUBLISHED:
            raise RuleBroken(
                "R8",
                f"Version {version.id} is {version.status.value}: only a published version can "
                "be unpublished.",
            )
        if len(self.published_versions()) == 1:
            raise RuleBroken(
                "R7",
                f"Version {version.id} is the only published version of product {self.code} "
                "and cannot be unpublished; unpublish the whole product instead.",
            )

    def unpublish(self, version: Version, at: datetime) -> None:
        self.check_unpublishable(version)
        version.unpublished(at)
        self.modified_at = at

    # R9 -- unpublish the whole product
    def check_unpublishable_product(self) -> list[Version]:
        published = self.published_versions()
        if not published:
            raise RuleBroken("R9", f"Product {self.code} has no published version to unpublish.")
        if any(v.status is Status.PUBLISHING for v in self._live("Unpublishing a product")):
            raise RuleBroken(
                "R9",
                f"A version of product {self.code} is being published; unpublish the product "
                "once it is done.",
            )
        return published

    def leaving_with_product(self) -> list[Version]:
        """What unpublishing the whole product unpublishes: every published version, and the
        broken ones (R9)."""
        gone = self.check_unpublishable_product()
        return gone + [v for v in self._live("Unpublishing a product") if v.status is Status.BROKEN]

    def unpublish_all(self, at: datetime) -> list[Version]:
        gone = self.leaving_with_product()
        for v in gone:
            v.unpublished(at)
        self.modified_at = at
        return gone

    # the notice of an unpublication
    def earliest_unpublish_date(self, today: date) -> date:
        return today + timedelta(days=max(self.notice_days, 1))

    def check_unpublish_date(self, on: date | None, today: date, *, release_manager: bool) -> None:
        """`on` None is "now": only with no notice period, and only for a release manager.
        A date is at least the notice period away, and at least tomorrow."""
        earliest = self.earliest_unpublish_date(today)
        if on is None:
            if self.notice_days > 0:
                raise RuleBroken(
                    "notice",
                    f"Product {self.code} gives its subscribers {self.notice_days} days' notice "
                    f"of an unpublication: pick a date on or after {earliest.isoformat()}.",
                )
            if not release_manager:
                raise NotAllowed(
                    f"Only a release manager of product {self.code} can unpublish at once; "
                    "pick a date instead."
                )
            return
        if on < earliest:
            raise RuleBroken(
                "notice",
                f"{on.isoformat()} is too soon: product {self.code} gives its subscribers "
                f"{self.notice_days} days' notice, so the earliest date is {earliest.isoformat()}.",
            )
        if on > today + timedelta(days=MAX_SCHEDULE_DAYS):
            raise UserError(
                f"An unpublication is scheduled {MAX_SCHEDULE_DAYS} days ahead at most."
            )

    # retention
    def beyond_retention(self) -> list[Version]:
        """The oldest published versions beyond `keep_published`, oldest first."""
        if self.keep_published is None:
            return []
        published = sorted(
            self.published_versions(), key=lambda v: (v.published_at or v.created_at, v.id)
        )
        return published[: max(0, len(published) - self.keep_published)]

    # who may change a published version and decide requests
    def is_release_manager(self, actor: Actor) -> bool:
        """Release managers are named by Slack user ID or user group ID, never by name; an
        operator of the CLI has the database's rights."""
        group = self.release_manager_group
        return (
            actor.operator
            or actor.id in self.release_managers
            or (group is not None and group in actor.groups)
        )

    def check_release_manager(self, actor: Actor, doing: str) -> None:
        if not self.is_release_manager(actor):
            raise NotAllowed(f"Only the release managers of product {self.code} can {doing}.")
