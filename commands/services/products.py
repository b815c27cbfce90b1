"""Products and their Versions table (R1): reading them, the version with its jobs and notices,
the OMIs the Version form offers (R2), a new Version form (R3), and adding a product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from commands.audit import AuditEvent
from commands.bootstrap import Core
from commands.errors import NotFound, UserError, quoted
from commands.model import (
    Excerpt,
    Job,
    Omi,
    Pricing,
    Product,
    Status,
    Unpublication,
    Version,
    VersionForm,
    check_account_id,
    check_product_code,
)
from storage.uow import UnitOfWork


class Unset:
    """Stands for an option not given (None means "no retention")."""


UNSET = Unset()


def get_product(uow: UnitOfWork, code: str, *, lock: bool = False) -> Product:
    product = uow.products.get(code, lock=lock)
    if product is None:
        raise NotFound(f"There is no product with product code {quoted(code)}.")
    return product


def get_excerpt(uow: UnitOfWork, code: str, excerpt: Excerpt) -> Product:
    """The product with the rows of its Versions table a reading needs (see Excerpt): what a
    form or a request message reads takes as long at 50,000 versions as at 5."""
    product = uow.products.excerpt(code, excerpt)
    if product is None:
        raise NotFound(f"There is no product with product code {quoted(code)}.")
    return product


def get_version(uow: UnitOfWork, version_id: str) -> Version:
    version = uow.versions.get(version_id.strip())
    if version is None:
        raise NotFound(f"There is no version {quoted(version_id)}.")
    return version


@dataclass(frozen=True)
class ProductLine:
    """A line of "My products": the product, its last available version, its date."""

    product: Product
    published: int
    last_available: Version | None


def list_products(core: Core) -> list[ProductLine]:
    with core.reading() as uow:
        last = uow.versions.last_available_of_all()
        return [
            ProductLine(product, published, last.get(product.code))
            for product, published in uow.products.summaries()
        ]


@dataclass(frozen=True)
class VersionsTable:
    """R1: a product's versions with the product code shown beside them, and the scheduled
    unpublication of each published one."""

    product: Product
    rows: list[Version]
    total: int
    last_available: Version | None
    schedules: dict[str, Unpublication] = field(default_factory=dict)

    def schedule_of(self, version: Version) -> Unpublication | None:
        return self.schedules.get(version.id)


def scheduled(
    versions: Sequence[Version], active: Sequence[Unpublication]
) -> dict[str, Unpublication]:
    """Each published version's schedule: its own, else its product's (the earlier wins)."""
    found: dict[str, Unpublication] = {}
    whole = [s for s in active if s.whole_product]
    for v in versions:
        if v.status not in (Status.PUBLISHED, Status.BROKEN):
            continue
        mine = [s for s in active if s.version_id == v.id] + whole
        if mine:
            found[v.id] = min(mine, key=lambda s: (s.due_at, s.id))
    return found


def versions_table(
    core: Core, product_code: str, *, limit: int | None = None, offset: int = 0
) -> VersionsTable:
    with core.reading() as uow:
        product = uow.products.get(product_code, versions=False)
        if product is None:
            raise NotFound(f"There is no product with product code {quoted(product_code)}.")
        rows = uow.versions.table(product_code, limit=limit, offset=offset)
        return VersionsTable(
            product,
            rows,
            product.version_count,
            uow.versions.last_available(product_code),
            scheduled(rows, uow.schedules.active(product_code)),
        )


@dataclass(frozen=True)
class VersionDetails:
    version: Version
    product: Product
    jobs: list[Job]
    mails: dict[str, int] = field(default_factory=dict)
    posts: dict[str, int] = field(default_factory=dict)
    schedule: Unpublication | None = None
    # Its audit trail, oldest first: the last `history_limit` events of `history_total`.
    history: list[AuditEvent] = field(default_factory=list)
    history_total: int = 0


def show_version(core: Core, version_id: str, *, history_limit: int | None = 50) -> VersionDetails:
    with core.reading() as uow:
        version = get_version(uow, version_id)
        product = get_excerpt(uow, version.product_code, Excerpt(version_id=version.id))
        history = uow.audit.list(
            version_id=version.id, limit=history_limit, newest_first=history_limit is not None
        )
        return VersionDetails(
            version=version,
            product=product,
            jobs=uow.jobs.for_version(version.id),
            mails=uow.outbox.counts(version.id, "email"),
            posts=uow.outbox.counts(version.id, "slack"),
            schedule=scheduled([version], uow.schedules.active(product.code)).get(version.id),
            history=sorted(history, key=lambda e: e.id),
            history_total=(
                uow.audit.count(version.id) if history_limit is not None else len(history)
            ),
        )


def selectable_omis(core: Core, product_code: str) -> list[Omi]:
    """R2: the OMIs the Version form offers: the seller's own, available, with the code."""
    with core.reading() as uow:
        product = get_product(uow, product_code)
    images = core.cloud.seller.selectable_omis(product.seller_account_id, product.code)
    return [i.as_omi() for i in images]


def new_form(core: Core, product_code: str) -> tuple[Product, VersionForm]:
    """R3: a new Version form, pre-filled from the last created version."""
    with core.reading() as uow:
        product = get_excerpt(uow, product_code, Excerpt())
        return product, product.new_form()


def open_unpublication(core: Core, version_id: str) -> tuple[Product, Version]:
    """Before the form that asks when to unpublish a version opens: whether it can be (R7,
    R8). Anyone may ask."""
    with core.reading() as uow:
        version = get_version(uow, version_id)
        excerpt = Excerpt(version_id=version.id, live=True)
        product = get_excerpt(uow, version.product_code, excerpt)
    version = product.version(version.id)
    product.check_unpublishable(version)
    return product, version


def open_product_unpublication(core: Core, product_code: str) -> Product:
    """Before the form that asks when to unpublish a whole product opens: whether it can be
    (R9). Anyone may ask."""
    with core.reading() as uow:
        product = get_excerpt(uow, product_code, Excerpt(live=True))
    product.check_unpublishable_product()
    return product


def find_omi(core: Core, product: Product, ref: str) -> Omi | None:
    if not ref.strip():
        return None
    image = core.cloud.seller.find_omi(product.seller_account_id, ref)
    return image.as_omi() if image else None


def is_settled(core: Core, version_id: str) -> bool:
    """No job of the version is left to run."""
    with core.reading() as uow:
        get_version(uow, version_id)
        return uow.jobs.unfinished(version_id) == 0


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
    notice_days: int | None = None,
    reminder_days: Sequence[int] | None = None,
    keep_published: int | Unset | None = UNSET,
) -> tuple[Product, bool]:
    """Adds a product or updates its description. Returns (product, created). The notice
    period, reminders and retention keep their values (or defaults) unless given."""
    check_product_code(code)
    check_account_id(seller_account_id)
    try:
        mode = Pricing(pricing)
    except ValueError:
        choices = ", ".join(p.value for p in Pricing)
        raise UserError(f"Pricing must be one of {choices}, not {quoted(pricing)}.") from None
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
            _settings(product, notice_days, reminder_days, keep_published)
            uow.products.add(product)
        else:
            if product.seller_account_id != seller_account_id and product.versions:
                raise UserError(
                    f"Product {code} already has versions from account "
                    f"{product.seller_account_id}; its seller account cannot change."
                )
            product.describe(name, release_managers, release_manager_group, approval_channel)
            product.seller_account_id = seller_account_id
            product.pricing = mode
            _settings(product, notice_days, reminder_days, keep_published)
        uow.commit()
        return product, created


def _settings(
    product: Product,
    notice_days: int | None,
    reminder_days: Sequence[int] | None,
    keep_published: int | Unset | None,
) -> None:
    product.set_schedule(
        product.notice_days if notice_days is None else notice_days,
        product.reminder_days if reminder_days is None else reminder_days,
        product.keep_published if isinstance(keep_published, Unset) else keep_published,
    )


def set_product(
    core: Core,
    code: str,
    *,
    notice_days: int | None = None,
    reminder_days: Sequence[int] | None = None,
    keep_published: int | Unset | None = UNSET,
) -> Product:
    """Changes a product's notice period, reminder cadence or retention; the rest stays."""
    with core.uow() as uow:
        product = get_product(uow, code, lock=True)
        _settings(product, notice_days, reminder_days, keep_published)
        uow.commit()
        return product
