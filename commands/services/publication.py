"""Publishing a version (R2–R5) and modifying a published one (R5, R6)."""

from __future__ import annotations

from dataclasses import replace

from commands import audit
from commands.audit import Kind
from commands.bootstrap import Core
from commands.model import (
    Actor,
    Excerpt,
    Omi,
    Product,
    Version,
    VersionForm,
)
from commands.pipeline import step_job
from commands.services.products import find_omi, get_excerpt, get_product, get_version
from storage.uow import UnitOfWork


def start_publication(uow: UnitOfWork, version: Version) -> None:
    uow.jobs.add(step_job("copy_omi", version, version.created_at))


def check_publication(
    core: Core, product_code: str, form: VersionForm
) -> tuple[Product, VersionForm, Omi | None]:
    """Everything a publication needs, without writing: the completed form (R3) and its OMI
    (R2, R5). Raises FormErrors naming each bad field."""
    with core.reading() as uow:
        product = get_excerpt(uow, product_code, Excerpt.of_form(form))
    completed = product.complete(form)
    omi = find_omi(core, product, completed.omi)
    product = holding(core, product, omi)
    return product, product.check_publishable(completed, omi), omi


def holding(core: Core, product: Product, omi: Omi | None) -> Product:
    """`product`, read again with the versions holding `omi` (R5) when its excerpt has not
    read them: a form that named the OMI by its name."""
    excerpt = product.excerpt
    if omi is None or excerpt is None or omi.image_id in excerpt.omis:
        return product
    with core.reading() as uow:
        wider = replace(excerpt, omis=excerpt.omis | {omi.image_id})
        return get_excerpt(uow, product.code, wider)


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
        start_publication(uow, version)
        audit.record(
            uow,
            Kind.PUBLISH_STARTED,
            at=version.created_at,
            product_code=product.code,
            by=approved_by or requested_by,
            version_id=version.id,
            omi=version.omi_id,
            software_version=version.software_version,
        )
        uow.commit()
        return version


# -- modifying --------------------------------------------------------------------------------

# The Version form's fields a modification may change (R5: never the OMI).
MODIFIABLE = (
    "software_version",
    "operating_system",
    "software_base",
    "release_note",
    "instructions",
)


def open_modification(core: Core, version_id: str, *, by: Actor) -> tuple[Product, Version]:
    """The Version form of a published version, for a release manager of its product (R6):
    refused before anything is typed into it."""
    with core.reading() as uow:
        version = get_version(uow, version_id)
        product = get_excerpt(uow, version.product_code, Excerpt(version_id=version.id))
        version = product.version(version.id)
        product.check_release_manager(by, "modify its versions")
        version.check_modifiable()
        return product, version


def modify(
    core: Core, version_id: str, form: VersionForm, *, by: Actor
) -> tuple[Version, list[str]]:
    """R5, R6: a release manager changes a published version's fields at once, its OMI never;
    no email."""
    with core.uow() as uow:
        version = get_version(uow, version_id)
        product = get_product(uow, version.product_code, lock=True)
        version = product.version(version.id)
        product.check_release_manager(by, "modify its versions")
        before = {name: getattr(version, name) for name in MODIFIABLE}
        changed = version.modify(form, core.clock())
        if changed:
            after = {name: getattr(version, name) for name in MODIFIABLE}
            audit.record(
                uow,
                Kind.MODIFIED,
                at=version.modified_at,
                product_code=product.code,
                by=by,
                version_id=version.id,
                changes=audit.changes(before, after),
            )
        uow.commit()
        return version, changed
