"""The operations, as the seed's page offers them: read the Versions table, open the Version
form, publish, modify, unpublish a version, unpublish a product; and the release managers'
approvals and the subscriptions around them.

Each operation checks the rules, then writes the new state and the jobs it implies in one
transaction. Cloud reads happen before the transaction so no lock is held while OUTSCALE
answers; the rules are checked again under the lock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from commands import notices
from commands.bootstrap import Core
from commands.errors import FormErrors, NotAllowed, NotFound, UserError
from commands.model import (
    Job,
    Omi,
    Organization,
    Pricing,
    Product,
    Request,
    RequestKind,
    RequestState,
    Subscriber,
    Subscription,
    Version,
    VersionForm,
    check_account_id,
    check_product_code,
)
from commands.pipeline import delete_copy_job, step_job
from storage.uow import UnitOfWork

# -- reading ----------------------------------------------------------------------------------


def get_product(uow: UnitOfWork, code: str, *, lock: bool = False) -> Product:
    product = uow.products.get(code, lock=lock)
    if product is None:
        raise NotFound(f"There is no product with product code {code!r}.")
    return product


def get_version(uow: UnitOfWork, version_id: str) -> Version:
    version = uow.versions.get(version_id.strip())
    if version is None:
        raise NotFound(f"There is no version {version_id!r}.")
    return version


@dataclass(frozen=True)
class ProductLine:
    """A line of "My products": the product, its last available version, its date."""

    product: Product
    published: int
    last_available: Version | None


def list_products(core: Core) -> list[ProductLine]:
    with core.uow() as uow:
        return [
            ProductLine(product, published, uow.versions.last_available(product.code))
            for product, published in uow.products.summaries()
        ]


@dataclass(frozen=True)
class VersionsTable:
    """R1: a product's versions with the product code shown beside them."""

    product: Product
    rows: list[Version]
    total: int
    last_available: Version | None


def versions_table(
    core: Core, product_code: str, *, limit: int | None = None, offset: int = 0
) -> VersionsTable:
    with core.uow() as uow:
        product = uow.products.get(product_code, versions=False)
        if product is None:
            raise NotFound(f"There is no product with product code {product_code!r}.")
        return VersionsTable(
            product,
            uow.versions.table(product_code, limit=limit, offset=offset),
            uow.versions.count(product_code),
            uow.versions.last_available(product_code),
        )


@dataclass(frozen=True)
class VersionDetails:
    version: Version
    product: Product
    jobs: list[Job]
    mails: dict[str, int] = field(default_factory=dict)
    posts: dict[str, int] = field(default_factory=dict)


def show_version(core: Core, version_id: str) -> VersionDetails:
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code)
        return VersionDetails(
            version=version,
            product=product,
            jobs=uow.jobs.for_version(version.id),
            mails=uow.outbox.counts(version.id, "email"),
            posts=uow.outbox.counts(version.id, "slack"),
        )


def selectable_omis(core: Core, product_code: str) -> list[Omi]:
    """R2: the OMIs the Version form offers: the seller's own, available, with the code."""
    with core.uow() as uow:
        product = get_product(uow, product_code)
    images = core.cloud.seller.selectable_omis(product.seller_account_id, product.code)
    return [i.as_omi() for i in images]


def new_form(core: Core, product_code: str) -> tuple[Product, VersionForm]:
    """R3: a new Version form, pre-filled from the last created version."""
    with core.uow() as uow:
        product = get_product(uow, product_code)
        return product, product.new_form()


def _find_omi(core: Core, product: Product, ref: str) -> Omi | None:
    if not ref.strip():
        return None
    image = core.cloud.seller.find_omi(product.seller_account_id, ref)
    return image.as_omi() if image else None


# -- publishing ---------------------------------------------------------------------------------


def _start_publication(uow: UnitOfWork, version: Version) -> None:
    uow.jobs.add(step_job("copy_omi", version, version.created_at))


def check_publication(
    core: Core, product_code: str, form: VersionForm
) -> tuple[Product, VersionForm, Omi | None]:
    """Everything a publication needs, without writing: the completed form (R3) and its OMI
    (R2, R5). Raises FormErrors naming each bad field."""
    with core.uow() as uow:
        product = get_product(uow, product_code)
    completed = product.complete(form)
    omi = _find_omi(core, product, completed.omi)
    return product, product.check_publishable(completed, omi), omi


def publish(
    core: Core,
    product_code: str,
    form: VersionForm,
    *,
    requested_by: str,
    approved_by: str | None = None,
) -> Version:
    """Publishes a version at once (the CLI's operators and pipelines): the OMI copy, its
    sharing and the notices follow in the worker."""
    _, _, omi = check_publication(core, product_code, form)
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        version = product.publish(
            form, omi, requested_by=requested_by, approved_by=approved_by, at=core.clock()
        )
        _start_publication(uow, version)
        uow.commit()
        return version


# -- modifying --------------------------------------------------------------------------------


def modify(core: Core, version_id: str, form: VersionForm, *, by: str) -> tuple[Version, list[str]]:
    """R5, R6: a published version's fields change at once, its OMI never; no email."""
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code, lock=True)
        version = product.version(version.id)
        changed = version.modify(form, core.clock())
        uow.commit()
        return version, changed


# -- unpublishing -----------------------------------------------------------------------------


def _delete_copies(uow: UnitOfWork, versions: Sequence[Version]) -> None:
    for v in versions:
        if v.copy_id:
            uow.jobs.add(delete_copy_job(v, v.modified_at))


def _unpublish(uow: UnitOfWork, product: Product, version: Version, core: Core) -> None:
    at = core.clock()
    product.unpublish(version, at)
    _delete_copies(uow, [version])
    notices.versions_unpublished(uow, product, [version], at, whole_product=False)


def _unpublish_product(uow: UnitOfWork, product: Product, core: Core) -> list[Version]:
    at = core.clock()
    gone = product.unpublish_all(at)
    _delete_copies(uow, gone)
    notices.versions_unpublished(uow, product, gone, at, whole_product=True)
    return gone


def unpublish(core: Core, version_id: str, *, by: str) -> Version:
    """R7, R8: the version is unpublished at once; its OMI copy is deleted by the worker."""
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code, lock=True)
        version = product.version(version.id)
        _unpublish(uow, product, version, core)
        uow.commit()
        return version


def unpublish_product(core: Core, product_code: str, *, by: str) -> list[Version]:
    """R9: every published version at once; R7 does not apply."""
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        gone = _unpublish_product(uow, product, core)
        uow.commit()
        return gone


# -- approvals --------------------------------------------------------------------------------


def request_publication(
    core: Core, product_code: str, form: VersionForm, *, requested_by: str
) -> Request:
    """The Version form was submitted: a release manager must now proceed with publication."""
    _, completed, _ = check_publication(core, product_code, form)
    with core.uow() as uow:
        request = Request(
            kind=RequestKind.PUBLISH,
            product_code=product_code,
            requested_by=requested_by,
            at=core.clock(),
            form=completed,
        )
        uow.requests.add(request)
        uow.commit()
        return request


def request_unpublish(core: Core, version_id: str, *, requested_by: str) -> Request:
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code)
        product.check_unpublishable(product.version(version.id))
        request = Request(
            kind=RequestKind.UNPUBLISH,
            product_code=product.code,
            version_id=version.id,
            requested_by=requested_by,
            at=core.clock(),
        )
        uow.requests.add(request)
        uow.commit()
        return request


def request_unpublish_product(core: Core, product_code: str, *, requested_by: str) -> Request:
    with core.uow() as uow:
        product = get_product(uow, product_code)
        product.check_unpublishable_product()
        request = Request(
            kind=RequestKind.UNPUBLISH_PRODUCT,
            product_code=product.code,
            requested_by=requested_by,
            at=core.clock(),
        )
        uow.requests.add(request)
        uow.commit()
        return request


def get_request(core: Core, request_id: int) -> Request:
    with core.uow() as uow:
        request = uow.requests.get(request_id)
        if request is None:
            raise NotFound(f"There is no request {request_id}.")
        return request


def awaiting_approval(core: Core, user_id: str, groups: Iterable[str] = ()) -> list[Request]:
    """Pending requests this user may decide: on products where they are a release manager by
    user ID or by one of `groups` (IDs), never their own."""
    groups = tuple(groups)
    with core.uow() as uow:
        codes = []
        for product, _published in uow.products.summaries():
            try:
                product.check_approver(user_id, groups)
            except NotAllowed:
                continue
            codes.append(product.code)
        if not codes:
            return []
        return [r for r in uow.requests.pending(codes) if r.requested_by != user_id]


def requests_of(core: Core, user_id: str, limit: int = 10) -> list[Request]:
    """A user's most recent requests, newest first."""
    with core.uow() as uow:
        return uow.requests.by_requester(user_id, limit)


@dataclass(frozen=True)
class Decision:
    request: Request
    versions: list[Version]


def approve(core: Core, request_id: int, *, by: str, groups: Iterable[str] = ()) -> Decision:
    """A release manager proceeds. Checked by user or group ID; never the requester. A second
    approval of the same request (a double click, a retry) is refused and changes nothing."""
    groups = tuple(groups)
    request = get_request(core, request_id)
    omi: Omi | None = None
    if request.kind is RequestKind.PUBLISH and request.state is RequestState.PENDING:
        with core.uow() as uow:
            product = get_product(uow, request.product_code)
            request.check_decidable(product, by, groups)
        omi = _find_omi(core, product, request.version_form().omi)
    with core.uow() as uow:
        request = _locked_request(uow, request_id)
        product = get_product(uow, request.product_code, lock=True)
        request.check_decidable(product, by, groups)
        try:
            versions = _carry_out(uow, core, product, request, omi, by)
        except UserError as refused:
            # The rules changed since the request (another version was unpublished, the OMI
            # was used...): the request can never pass; say so on it and keep nothing else.
            uow.rollback()
            request = _locked_request(uow, request_id)
            request.decide(RequestState.FAILED, by, core.clock(), str(refused))
            uow.commit()
            raise
        request.decide(RequestState.APPROVED, by, core.clock())
        uow.commit()
        return Decision(request, versions)


def _locked_request(uow: UnitOfWork, request_id: int) -> Request:
    request = uow.requests.get(request_id, lock=True)
    if request is None:
        raise NotFound(f"There is no request {request_id}.")
    return request


def _carry_out(
    uow: UnitOfWork, core: Core, product: Product, request: Request, omi: Omi | None, by: str
) -> list[Version]:
    if request.kind is RequestKind.PUBLISH:
        version = product.publish(
            request.version_form(),
            omi,
            requested_by=request.requested_by,
            approved_by=by,
            at=core.clock(),
        )
        _start_publication(uow, version)
        request.version_id = version.id
        return [version]
    if request.kind is RequestKind.UNPUBLISH:
        assert request.version_id is not None
        version = product.version(request.version_id)
        _unpublish(uow, product, version, core)
        return [version]
    return _unpublish_product(uow, product, core)


def reject(
    core: Core, request_id: int, *, by: str, reason: str, groups: Iterable[str] = ()
) -> Request:
    reason = reason.strip()
    if not reason:
        raise FormErrors({"reason": "Say why the request is rejected."})
    with core.uow() as uow:
        request = _locked_request(uow, request_id)
        product = get_product(uow, request.product_code)
        request.check_decidable(product, by, groups)
        request.decide(RequestState.REJECTED, by, core.clock(), reason[:2000])
        uow.commit()
        return request


def record_surface(core: Core, request_id: int, surface: dict[str, object]) -> None:
    """Remembers where a request is shown (a Slack message) so it can be updated in place."""
    with core.uow() as uow:
        request = _locked_request(uow, request_id)
        request.surface = {**request.surface, **surface}
        uow.commit()


# -- products, organizations and subscribers ---------------------------------------------------


def save_product(
    core: Core,
    *,
    code: str,
    name: str,
    seller_account_id: str,
    pricing: str,
    release_managers: Sequence[str] = (),
    release_manager_group: str | None = None,
    approval_channel: str | None = None,
) -> tuple[Product, bool]:
    """Adds a product or updates its description. Returns (product, created)."""
    check_product_code(code)
    check_account_id(seller_account_id)
    try:
        mode = Pricing(pricing)
    except ValueError:
        choices = ", ".join(p.value for p in Pricing)
        raise UserError(f"Pricing must be one of {choices}, not {pricing!r}.") from None
    with core.uow() as uow:
        product = uow.products.get(code, lock=True)
        created = product is None
        if product is None:
            product = Product(
                code=code,
                name=name,
                seller_account_id=seller_account_id,
                pricing=mode,
                at=core.clock(),
                release_managers=release_managers,
                release_manager_group=release_manager_group,
                approval_channel=approval_channel,
            )
            uow.products.add(product)
        else:
            if product.seller_account_id != seller_account_id and product.versions:
                raise UserError(
                    f"Product {code} already has versions from account "
                    f"{product.seller_account_id}; its seller account cannot change."
                )
            if not name.strip():
                raise UserError("A product needs a name.")
            product.name = name.strip()
            product.seller_account_id = seller_account_id
            product.pricing = mode
            product.release_managers = list(release_managers)
            product.release_manager_group = release_manager_group
            product.approval_channel = approval_channel
        uow.commit()
        return product, created


def save_organization(
    core: Core, *, name: str, language: str, admin_emails: Sequence[str]
) -> Organization:
    language = language.strip().lower()
    if language not in ("en", "fr"):
        raise UserError(f"An organization's language is 'en' or 'fr', not {language!r}.")
    emails = [check_email(e) for e in admin_emails]
    if not name.strip():
        raise UserError("An organization needs a name.")
    with core.uow() as uow:
        org = uow.subscribers.organization(name.strip())
        if org is None:
            org = Organization(name=name.strip(), language=language, admin_emails=emails)
            uow.subscribers.add_organization(org)
        else:
            org.language = language
            org.admin_emails = emails
        uow.commit()
        return org


def check_email(address: str) -> str:
    address = address.strip()
    local, _, domain = address.partition("@")
    if (
        not local
        or "." not in domain
        or any(c in address for c in " \r\n\t<>,;\"'")
        or len(address) > 254
    ):
        raise UserError(f"{address!r} is not an email address.")
    return address


def save_subscriber(
    core: Core,
    *,
    account_id: str,
    organization: str,
    email: str,
    slack_channel: str | None = None,
) -> Subscriber:
    check_account_id(account_id)
    email = check_email(email)
    with core.uow() as uow:
        org = uow.subscribers.organization(organization)
        if org is None or org.id is None:
            raise NotFound(f"There is no organization {organization!r}.")
        sub = uow.subscribers.get(account_id)
        if sub is None:
            sub = Subscriber(
                account_id=account_id,
                organization_id=org.id,
                email=email,
                slack_channel=slack_channel or None,
            )
            uow.subscribers.add(sub)
        else:
            sub.organization_id = org.id
            sub.email = email
            sub.slack_channel = slack_channel or None
        uow.commit()
        return sub


def subscribe(core: Core, account_id: str, product_code: str) -> bool:
    """The account gets launch permission on every published copy of the product (a job
    each). Returns False when it was already subscribed."""
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        if uow.subscribers.get(account_id) is None:
            raise NotFound(f"There is no subscriber with account {account_id!r}.")
        if uow.subscribers.subscription(account_id, product_code) is not None:
            return False
        at = core.clock()
        uow.subscribers.add_subscription(Subscription(account_id, product_code, at))
        if not product.pricing.public_copy:
            for v in product.published_versions():
                _access_job(uow, "grant_account", v, account_id, at)
        uow.commit()
        return True


def unsubscribe(core: Core, account_id: str, product_code: str) -> bool:
    """The account loses launch permission on the product's copies."""
    with core.uow() as uow:
        product = get_product(uow, product_code, lock=True)
        subscription = uow.subscribers.subscription(account_id, product_code)
        if subscription is None:
            return False
        uow.subscribers.delete(subscription)
        at = core.clock()
        if not product.pricing.public_copy:
            for v in product.published_versions():
                _access_job(uow, "revoke_account", v, account_id, at)
        uow.commit()
        return True


def _access_job(
    uow: UnitOfWork, kind: str, version: Version, account_id: str, at: datetime
) -> None:
    uow.jobs.add(
        Job(
            kind,
            at=at,
            version_id=version.id,
            product_code=version.product_code,
            payload={"account_ids": [account_id]},
        )
    )


def remove_subscriber(core: Core, account_id: str) -> None:
    """Ends every subscription of the account, then forgets it."""
    with core.uow() as uow:
        sub = uow.subscribers.get(account_id)
        if sub is None:
            raise NotFound(f"There is no subscriber with account {account_id!r}.")
        codes = [s.product_code for s in uow.subscribers.subscriptions_of(account_id)]
    for code in codes:
        unsubscribe(core, account_id, code)
    with core.uow() as uow:
        sub = uow.subscribers.get(account_id)
        if sub is not None:
            uow.subscribers.delete(sub)
            uow.commit()


@dataclass(frozen=True)
class Audience:
    """Who a publication reaches: subscriber accounts and distinct mail recipients (the
    subscribers' contacts and their organizations' administrators)."""

    accounts: int
    recipients: int


def audience(core: Core, product_code: str) -> Audience:
    with core.uow() as uow:
        get_product(uow, product_code)
        subs = uow.subscribers.list(product_code)
        emails = {s.email.lower() for s in subs}
        for org_id in {s.organization_id for s in subs}:
            org = uow.subscribers.organization_by_id(org_id)
            if org is not None:
                emails.update(e.lower() for e in org.admin_emails)
        return Audience(accounts=len(subs), recipients=len(emails))


def is_settled(core: Core, version_id: str) -> bool:
    """No job of the version is left to run."""
    with core.uow() as uow:
        get_version(uow, version_id)
        return uow.jobs.unfinished(version_id) == 0
