"""What a request will send and do once approved, shown to the release managers before they
decide: the Version form and what it changes from the previous version, the mail and the Slack
announcement in each language, who receives them, and the cloud work.

The notices are rendered by the functions the real sending uses (commands.notices builds the
facts, commands.notifications.mail and .announcements render them), so the preview is what is
sent. Only what cannot be known before approval differs: the version's ID, given when a release
manager approves, and the OMI copy's ID, given when the copy is made. They are shown as
VERSION_ID_PLACEHOLDER and COPY_ID_PLACEHOLDER."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from math import ceil
from typing import Any

from commands import notices
from commands.bootstrap import Core
from commands.errors import CloudError, NotFound, OmiError, UserError
from commands.model import (
    Actor,
    Excerpt,
    Omi,
    Product,
    Request,
    RequestKind,
    RequestState,
    Version,
    VersionForm,
)
from commands.model.schedules import start_of
from commands.notices import Reach, Recipient
from commands.notifications.announcements import Rendered, render_announcement
from commands.notifications.mail import LANGUAGES, Event, MailFacts, RenderedMail, render
from commands.services.approvals import unpublish_date
from commands.services.products import find_omi, get_excerpt
from commands.services.publication import check_publication, holding

__all__ = [
    "COPY_ID_PLACEHOLDER",
    "VERSION_ID_PLACEHOLDER",
    "CloudWork",
    "Notice",
    "OrganizationReach",
    "Preview",
    "form_changes",
    "preview_publication",
    "preview_request",
]

# The shape of the IDs they stand for, so the mail reads as it will.
VERSION_ID_PLACEHOLDER = "ver-??????????"
COPY_ID_PLACEHOLDER = "ami-????????"


def form_changes(previous: Version | None, form: VersionForm) -> list[tuple[str, str, str]]:
    """(field, previous value, new value) of the fields a new version changes from the
    previous one (R3 pre-fills them from it); the OMI and the release note are each
    version's own."""
    if previous is None:
        return []
    pairs = [
        ("software_version", previous.software_version, form.software_version),
        ("operating_system", previous.operating_system, form.operating_system),
        ("software_base", ", ".join(previous.software_base), ", ".join(form.software_base)),
        ("instructions", previous.instructions, form.instructions),
    ]
    return [(name, old, new) for name, old, new in pairs if old != new]


@dataclass(frozen=True)
class Notice:
    """The notice in one language: the mail and the Slack announcement as they will be sent,
    and how many mail recipients and channels get it in that language."""

    language: str
    mail: RenderedMail
    announcement: Rendered
    recipients: int
    channels: int


@dataclass(frozen=True)
class OrganizationReach:
    """One subscriber organization: its accounts, the addresses mailed, its channels."""

    name: str
    language: str
    accounts: list[str]
    addresses: list[str]
    channels: list[str]


@dataclass(frozen=True)
class CloudWork:
    """What the worker will do on the OUTSCALE Cloud."""

    seller_account: str
    # None when the distribution account could not be asked (the cloud did not answer).
    distribution_account: str | None
    # Publication: the OMI copied, and its copy shared or made public.
    source_omi: str | None = None
    source_name: str | None = None
    public: bool = False
    accounts: int = 0
    batch_size: int = 100
    # Unpublication: the copies deleted (version ID, copy ID), at once or on `on`.
    deletions: list[tuple[str, str]] = field(default_factory=list)
    on: date | None = None

    @property
    def grant_source(self) -> bool:
        """The seller lets the distribution account launch the source OMI first (one
        `UpdateImage`), unless it is the same account."""
        return self.distribution_account != self.seller_account

    @property
    def share_calls(self) -> int:
        """`UpdateImage` calls that give the subscribers access to the copy."""
        if self.public:
            return 1
        return ceil(self.accounts / self.batch_size) if self.accounts else 0


@dataclass(frozen=True)
class Preview:
    request: Request
    product: Product
    event: Event
    # Publication: the completed Version form and what it changes; unpublication: the
    # versions it unpublishes.
    form: VersionForm | None
    previous: Version | None
    changes: list[tuple[str, str, str]]
    versions: list[Version]
    unpublish_on: date | None
    notices: dict[str, Notice]
    organizations: list[OrganizationReach]
    recipients: list[Recipient]
    channels: list[tuple[str, str]]
    cloud: CloudWork
    at: datetime

    @property
    def accounts(self) -> int:
        return sum(len(o.accounts) for o in self.organizations)


def preview_request(core: Core, request_id: int, *, by: Actor) -> Preview:
    """The preview of a pending request, for those who may see it: the release managers of
    its product (and the CLI's operator)."""
    with core.reading() as uow:
        request = uow.requests.get(request_id)
        if request is None:
            raise NotFound(f"There is no request {request_id}.")
        product = get_excerpt(uow, request.product_code, _excerpt(request))
        product.check_release_manager(by, "preview its requests")
        if request.state is not RequestState.PENDING:
            raise UserError(
                f"Request {request.id} was already {request.state.value}: a preview shows what "
                "a pending request would do."
            )
        found = notices.reach(uow, product.code)
    omi: Omi | None = None
    if request.kind is RequestKind.PUBLISH:
        form = product.complete(request.version_form())
        try:
            omi = find_omi(core, product, form.omi)
        except CloudError:
            # The preview still shows what the database knows; the approval asks again.
            omi = None
        else:
            # What an approval now would refuse (R2, R5) is said instead of a preview.
            product = holding(core, product, omi)
            product.check_publishable(form, omi)
    elif request.kind is RequestKind.UNPUBLISH:
        product.check_unpublishable(product.version(str(request.version_id)))
    else:
        product.check_unpublishable_product()
    return build(core, request, product, found, omi)


def _excerpt(request: Request) -> Excerpt:
    """What a preview reads of the Versions table: the rows the approval's rules check."""
    if request.kind is RequestKind.PUBLISH:
        return Excerpt.of_form(request.version_form())
    return Excerpt(version_id=request.version_id, live=True)


def preview_publication(
    core: Core, product_code: str, form: VersionForm, *, requested_by: str
) -> Preview:
    """A dry run of a publication request: every rule checked as the request would check it,
    the OMI asked of the cloud (R2), and the preview of what its approval would send and do;
    nothing is written. Raises the request's errors (FormErrors naming each field)."""
    product, completed, omi = check_publication(core, product_code, form)
    request = Request(
        kind=RequestKind.PUBLISH,
        product_code=product.code,
        requested_by=requested_by,
        at=core.clock(),
        form=completed,
    )
    with core.reading() as uow:
        found = notices.reach(uow, product.code)
    return build(core, request, product, found, omi)


def build(
    core: Core, request: Request, product: Product, found: Reach, omi: Omi | None = None
) -> Preview:
    """The preview of `request` on `product` as they stand, reaching `found`. `omi`, when the
    caller has already asked the cloud for it, names the source OMI."""
    at = core.clock()
    form: VersionForm | None = None
    previous: Version | None = None
    on: date | None = None
    if request.kind is RequestKind.PUBLISH:
        form = product.complete(request.version_form())
        previous = product.last_created_version()
        version = _future_version(product, form, omi, request, at)
        # The new version is the newest published one once it is published.
        facts = [notices.published_facts(product, version, version, at)]
        versions = [version]
    else:
        on = unpublish_date(core, product, request)
        if request.kind is RequestKind.UNPUBLISH:
            versions = [product.version(str(request.version_id))]
            whole = False
        else:
            versions = (
                product.published_versions() if on is not None else product.leaving_with_product()
            )
            whole = True
        if on is not None:
            facts = [
                notices.schedule_facts(
                    Event.UNPUBLICATION_SCHEDULED,
                    product,
                    versions,
                    due_at=start_of(on),
                    whole_product=whole,
                )
            ]
        else:
            last = product.last_available_version(without=[v.id for v in versions])
            facts = notices.unpublished_facts(product, versions, last, at, whole_product=whole)
    return Preview(
        request=request,
        product=product,
        event=facts[0].event,
        form=form,
        previous=previous,
        changes=form_changes(previous, form) if form is not None else [],
        versions=versions if request.kind is not RequestKind.PUBLISH else [],
        unpublish_on=on,
        notices=_notices(facts[0], found, at),
        organizations=_organizations(found),
        recipients=found.recipients,
        channels=found.channels,
        cloud=_cloud_work(core, request, product, found, versions, omi, on),
        at=at,
    )


def _future_version(
    product: Product, form: VersionForm, omi: Omi | None, request: Request, at: datetime
) -> Version:
    """The version an approval now would publish, as its notice will see it; never stored."""
    source = omi or Omi(form.omi, form.omi, product.seller_account_id, (product.code,), "")
    version = Version(
        id=VERSION_ID_PLACEHOLDER,
        product_code=product.code,
        omi=source,
        form=form,
        requested_by=request.requested_by,
        approved_by=None,
        at=at,
    )
    version.copy_made(COPY_ID_PLACEHOLDER)
    version.published(at)
    return version


def _notices(facts: MailFacts, found: Reach, at: datetime) -> dict[str, Notice]:
    announcement = notices.announcement_facts(facts, at)
    return {
        lang: Notice(
            language=lang,
            mail=render(facts, lang),
            announcement=render_announcement(announcement, lang),
            recipients=sum(1 for r in found.recipients if r.language == lang),
            channels=sum(1 for _, channel_lang in found.channels if channel_lang == lang),
        )
        for lang in LANGUAGES
    }


def _organizations(found: Reach) -> list[OrganizationReach]:
    by_org: dict[int, list[Any]] = defaultdict(list)
    for sub in found.subscribers:
        by_org[sub.organization_id].append(sub)
    listed = []
    for org_id, subs in by_org.items():
        org = found.organizations.get(org_id)
        if org is None:
            continue
        addresses: dict[str, str] = {}
        for address in [s.email for s in subs] + list(org.admin_emails):
            addresses.setdefault(address.strip().lower(), address.strip())
        listed.append(
            OrganizationReach(
                name=org.name,
                language=org.language,
                accounts=sorted(s.account_id for s in subs),
                addresses=sorted(a for a in addresses.values() if a),
                channels=sorted({s.slack_channel for s in subs if s.slack_channel}),
            )
        )
    return sorted(listed, key=lambda o: o.name.lower())


def _distribution_account(core: Core) -> str | None:
    try:
        return core.cloud.distribution.account_id
    except OmiError:
        return None


def _cloud_work(
    core: Core,
    request: Request,
    product: Product,
    found: Reach,
    versions: list[Version],
    omi: Omi | None,
    on: date | None,
) -> CloudWork:
    common = {
        "seller_account": product.seller_account_id,
        "distribution_account": _distribution_account(core),
        "batch_size": core.settings.share_batch_size,
    }
    if request.kind is RequestKind.PUBLISH:
        source = versions[0]
        return CloudWork(
            **common,  # type: ignore[arg-type]
            source_omi=omi.image_id if omi else source.omi_id,
            source_name=omi.name if omi else None,
            public=product.pricing.public_copy,
            accounts=len(found.subscribers),
        )
    return CloudWork(
        **common,  # type: ignore[arg-type]
        deletions=[(v.id, v.copy_id) for v in versions if v.copy_id],
        on=on,
    )
