"""What a Version form, a request message and the forms that ask to unpublish read of a
Versions table: the few rows their rules need (R3, R5, R7, R9), so that their time does not grow
with the table; and the rules that need more refuse to run on such an excerpt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from commands import services
from commands.bootstrap import Core
from commands.errors import FormErrors, RuleBroken
from commands.model import (
    Excerpt,
    Omi,
    PartialTable,
    Request,
    RequestKind,
    Status,
    Version,
    VersionForm,
)
from commands.preview import preview_publication, preview_request
from tests.conftest import OMI_1, OMI_2, OPERATOR, SELLER

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SIZE = 60  # versions in the table; each reading below loads at most a handful


def fake_omi(n: int) -> Omi:
    return Omi(f"ami-{0xA0000000 + n:08x}", f"image-{n}", SELLER, ("0001",), "available")


def grow(core: Core, code: str, size: int = SIZE, *, first_omi: str = OMI_1) -> list[str]:
    """`size` versions, one a minute: the oldest holds `first_omi` and is unpublished, the
    newest is published with software version "9.9", the others unpublished. Returns their
    IDs, oldest first."""
    ids = []
    with core.uow() as uow:
        product = uow.products.get(code, lock=True)
        assert product is not None
        for n in range(size):
            omi = fake_omi(n) if n else Omi(first_omi, "old", SELLER, ("0001",), "available")
            last = n == size - 1
            form = VersionForm(
                omi=omi.image_id,
                software_version="9.9" if last else f"1.{n}",
                operating_system="Debian 12",
                release_note=f"note {n}",
            )
            at = T0 + timedelta(minutes=n)
            version = product.publish(form, omi, requested_by="U1", approved_by="URM1", at=at)
            product.publication_done(version, at)
            if not last:
                version.unpublished(at)
            ids.append(version.id)
        uow.commit()
    return ids


@contextmanager
def versions_loaded() -> Iterator[list[str]]:
    loaded: list[str] = []

    def count(target: Version, _context: object) -> None:
        loaded.append(target.id)

    event.listen(Version, "load", count)
    try:
        yield loaded
    finally:
        event.remove(Version, "load", count)


def test_the_form_and_the_request_message_read_a_few_rows_whatever_the_size(
    core: Core, product: str
) -> None:
    ids = grow(core, product)
    request = Request(
        kind=RequestKind.PUBLISH,
        product_code=product,
        requested_by="UDEV",
        at=T0,
        form=VersionForm(omi=OMI_2, release_note="new"),
    )
    with core.uow() as uow:
        uow.requests.add(request)
        uow.commit()
    readings = {
        "new form": lambda: services.new_form(core, product),
        "form check": lambda: services.check_request(core, product, request.version_form()),
        "request message": lambda: services.request_context(core, request),
        "decision": lambda: services.check_decision(core, request.id, by=OPERATOR),
        "version": lambda: services.show_version(core, ids[5]),
        "modification": lambda: services.open_modification(core, ids[-1], by=OPERATOR),
        "unpublish form": lambda: services.open_product_unpublication(core, product),
        "preview": lambda: preview_request(core, request.id, by=OPERATOR),
        "dry run": lambda: preview_publication(
            core, product, request.version_form(), requested_by="UDEV"
        ),
    }
    for name, read in readings.items():
        with versions_loaded() as loaded:
            read()
        # The last created version (R3), and the one named or holding the OMI (R5).
        assert len(loaded) <= 2, f"{name} read {len(loaded)} of {SIZE} versions"


def test_r3_the_new_form_starts_from_the_last_created_of_many(core: Core, product: str) -> None:
    grow(core, product)
    loaded, form = services.new_form(core, product)
    assert form.software_version == "9.9" and form.operating_system == "Debian 12"
    assert form.omi == "" and form.release_note == ""
    assert loaded.version_count == SIZE


def test_r5_an_omi_held_by_the_oldest_version_is_refused(core: Core, product: str) -> None:
    ids = grow(core, product)
    with pytest.raises(FormErrors) as refused:
        services.check_request(core, product, VersionForm(omi=f" {OMI_1} ", release_note="x"))
    assert ids[0] in refused.value.fields["omi"] and "R5" in refused.value.fields["omi"]


def test_r5_an_omi_typed_by_its_name_is_found_held_by_its_id(core: Core, product: str) -> None:
    """The sandbox names OMI_1 debian-12-nginx-1.24: typed so, the version holding its ID
    (the oldest of the table) is found after OUTSCALE says which OMI it is."""
    ids = grow(core, product)
    form = VersionForm(omi="debian-12-nginx-1.24", release_note="x")
    with pytest.raises(FormErrors) as refused:
        services.check_publication(core, product, form)
    assert ids[0] in refused.value.fields["omi"]
    _, checked, omi = services.check_publication(
        core, product, VersionForm(omi=OMI_2, release_note="x")
    )
    assert omi is not None and omi.image_id == OMI_2
    assert checked.software_version == "9.9"  # completed from the last created version (R3)


def test_r7_the_only_published_among_many_cannot_be_unpublished(core: Core, product: str) -> None:
    ids = grow(core, product)
    with pytest.raises(RuleBroken, match="only published version"):
        services.open_unpublication(core, ids[-1])
    with pytest.raises(RuleBroken, match="only a published version"):
        services.open_unpublication(core, ids[3])
    loaded = services.open_product_unpublication(core, product)  # R9: R7 does not apply
    assert [v.id for v in loaded.published_versions()] == [ids[-1]]


def test_r9_a_product_with_a_version_being_published_waits(core: Core, product: str) -> None:
    ids = grow(core, product)
    with core.uow() as uow:
        version = uow.versions.get(ids[-2])  # older than the published one
        assert version is not None
        version.status = Status.PUBLISHING
        uow.commit()
    with pytest.raises(RuleBroken, match="being published"):
        services.open_product_unpublication(core, product)


def test_rules_that_need_more_than_the_excerpt_refuse_to_run(core: Core, product: str) -> None:
    ids = grow(core, product)
    with core.reading() as uow:
        loaded = uow.products.excerpt(product, Excerpt(omis=frozenset({OMI_2})))
        assert loaded is not None
        assert loaded.last_created_version() is not None
        assert loaded.version_using(OMI_2) is None  # read: nothing holds it
        with pytest.raises(PartialTable):
            loaded.version_using(OMI_1)  # not read: the oldest holds it
        with pytest.raises(PartialTable):
            loaded.version(ids[0])
        with pytest.raises(PartialTable):
            loaded.versions_table()
        with pytest.raises(PartialTable):
            loaded.published_versions()
        with pytest.raises(PartialTable):
            loaded.publish(
                VersionForm(omi=OMI_2, release_note="x"),
                fake_omi(999),
                requested_by="U1",
                approved_by=None,
                at=T0,
            )


def test_a_product_read_whole_in_the_unit_stays_whole(core: Core, product: str) -> None:
    grow(core, product, 5)
    with core.reading() as uow:
        whole = uow.products.get(product)
        again = uow.products.excerpt(product, Excerpt())
        assert again is whole and again is not None
        assert again.excerpt is None and len(again.versions_table()) == 5
