"""The seed's rules R1–R9 on the domain alone (no database, no cloud)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commands.errors import FormErrors, NotAllowed, RuleBroken, UserError
from commands.model import (
    Actor,
    Omi,
    Pricing,
    Product,
    Request,
    RequestKind,
    Status,
    VersionForm,
)

SELLER = "111111111111"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def omi(
    n: int, *, account: str = SELLER, codes: tuple[str, ...] = ("0001",), state: str = "available"
) -> Omi:
    return Omi(f"ami-0000000{n}", f"image-{n}", account, codes, state)


def make_product(pricing: Pricing = Pricing.HOURLY) -> Product:
    return Product(
        code="0001",
        name="Nginx",
        seller_account_id=SELLER,
        pricing=pricing,
        at=T0,
        release_managers=["URM1"],
        release_manager_group="SRM",
    )


def published(product: Product, n: int, minute: int, **fields: str) -> object:
    form = VersionForm(omi=f"ami-0000000{n}", release_note=f"note {n}", **fields)
    version = product.publish(form, omi(n), requested_by="U1", approved_by="URM1", at=at(minute))
    product.publication_done(version, at(minute + 1))
    return version


# R1 ---------------------------------------------------------------------------------------


def test_r1_versions_table_lists_every_version_newest_first() -> None:
    product = make_product()
    v1 = published(product, 1, 0, software_version="1.0")
    v2 = published(product, 2, 10, software_version="2.0")
    rows = product.versions_table()
    assert [r.id for r in rows] == [v2.id, v1.id]  # type: ignore[attr-defined]
    assert all(r.product_code == "0001" for r in rows)
    assert {r.status for r in rows} == {Status.PUBLISHED}


def test_r1_product_code_must_be_a_code() -> None:
    with pytest.raises(UserError, match="not a product code"):
        Product(code="bad code!", name="x", seller_account_id=SELLER, pricing=Pricing.FREE, at=T0)


# R2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "candidate, why",
    [
        (omi(1, account="999999999999"), "created by account"),
        (omi(1, codes=("0002",)), "carrying product code"),
        (omi(1, codes=()), "carrying product code"),
        (omi(1, state="pending"), "only available"),
    ],
)
def test_r2_only_the_sellers_available_omis_with_the_code_are_selectable(
    candidate: Omi, why: str
) -> None:
    product = make_product()
    with pytest.raises(FormErrors) as refused:
        product.publish(
            VersionForm(omi=candidate.image_id, release_note="n"),
            candidate,
            requested_by="U1",
            approved_by=None,
            at=T0,
        )
    assert "omi" in refused.value.fields
    assert "R2" in refused.value.fields["omi"]
    assert product.versions == []


def test_r2_an_omi_the_cloud_does_not_show_is_refused() -> None:
    product = make_product()
    with pytest.raises(FormErrors) as refused:
        product.publish(
            VersionForm(omi="ami-deadbeef", release_note="n"),
            None,
            requested_by="U1",
            approved_by=None,
            at=T0,
        )
    assert "No OMI" in refused.value.fields["omi"]


# R3 ---------------------------------------------------------------------------------------


def test_r3_new_form_is_prefilled_from_the_last_created_version() -> None:
    product = make_product()
    published(product, 1, 0, software_version="1.0", operating_system="Debian 11")
    published(
        product,
        2,
        10,
        software_version="2.0",
        operating_system="Debian 12",
        instructions="ssh as outscale",
    )
    form = product.new_form()
    assert form.software_version == "2.0"
    assert form.operating_system == "Debian 12"
    assert form.instructions == "ssh as outscale"
    assert form.omi == ""  # a new version needs its own OMI
    assert form.release_note == ""  # and its own release note


def test_r3_prefill_follows_the_last_created_even_if_it_is_not_published() -> None:
    product = make_product()
    published(product, 1, 0, software_version="1.0")
    v2 = published(product, 2, 10, software_version="2.0")
    published(product, 3, 20, software_version="3.0")
    product.unpublish(v2, at(30))  # type: ignore[arg-type]
    last = product.versions[-1]
    last.failed("copy failed", at(40))
    assert product.new_form().software_version == "3.0"


def test_r3_empty_fields_come_from_the_last_version_but_not_the_release_note() -> None:
    product = make_product()
    published(product, 1, 0, software_version="1.0", operating_system="Debian 12")
    v2 = product.publish(
        VersionForm(omi="ami-00000002", release_note="fixes"),
        omi(2),
        requested_by="U1",
        approved_by=None,
        at=at(5),
    )
    assert v2.software_version == "1.0"
    assert v2.operating_system == "Debian 12"
    assert v2.release_note == "fixes"
    assert v2.omi_name == "image-2"  # filled in from the cloud, not typed


def test_r3_release_note_is_required() -> None:
    product = make_product()
    with pytest.raises(FormErrors) as refused:
        product.publish(
            VersionForm(omi="ami-00000001", release_note="   "),
            omi(1),
            requested_by="U1",
            approved_by=None,
            at=T0,
        )
    assert set(refused.value.fields) == {"release_note"}
    assert product.versions == []


def test_r3_form_sizes_are_checked_field_by_field() -> None:
    with pytest.raises(FormErrors) as refused:
        VersionForm(
            omi="x",
            software_version="v" * 65,
            release_note="n" * 3001,
            software_base=tuple(f"pkg{i}" for i in range(31)),
        ).cleaned()
    assert set(refused.value.fields) == {"software_version", "release_note", "software_base"}


# R4 ---------------------------------------------------------------------------------------


def test_r4_publication_updates_modification_date_and_last_available_version() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    assert product.last_available_version() is v1
    v2 = product.publish(
        VersionForm(omi="ami-00000002", release_note="n"),
        omi(2),
        requested_by="U1",
        approved_by="URM1",
        at=at(10),
    )
    assert v2.status is Status.PUBLISHING
    assert product.last_available_version() is v1  # not available until copied and shared
    product.publication_done(v2, at(12))
    assert product.last_available_version() is v2
    assert product.modified_at == at(12)
    assert v2.published_at == at(12) and v2.modified_at == at(12)


# R5 ---------------------------------------------------------------------------------------


def test_r5_an_omi_already_used_by_a_version_is_refused() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    with pytest.raises(FormErrors) as refused:
        product.publish(
            VersionForm(omi="ami-00000001", release_note="again"),
            omi(1),
            requested_by="U1",
            approved_by=None,
            at=at(5),
        )
    assert v1.id in refused.value.fields["omi"]  # type: ignore[attr-defined]
    assert len(product.versions) == 1


def test_r5_a_failed_attempt_does_not_hold_its_omi() -> None:
    product = make_product()
    v1 = product.publish(
        VersionForm(omi="ami-00000001", release_note="n"),
        omi(1),
        requested_by="U1",
        approved_by=None,
        at=T0,
    )
    v1.failed("copy failed", at(1))
    again = product.publish(
        VersionForm(omi="ami-00000001", release_note="n"),
        omi(1),
        requested_by="U1",
        approved_by=None,
        at=at(2),
    )
    assert again.status is Status.PUBLISHING


def test_r5_the_omi_of_a_published_version_cannot_change() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    with pytest.raises(RuleBroken) as refused:
        v1.modify(VersionForm(omi="ami-00000002", release_note="n"), at(5))  # type: ignore[attr-defined]
    assert refused.value.rule == "R5"
    assert v1.omi_id == "ami-00000001"  # type: ignore[attr-defined]


# R6 ---------------------------------------------------------------------------------------


def test_r6_modifying_a_published_version_updates_its_modification_date() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    changed = v1.modify(  # type: ignore[attr-defined]
        VersionForm(omi="ami-00000001", release_note="better note", software_version="1.1"),
        at(30),
    )
    assert set(changed) == {"release_note", "software_version"}
    assert v1.modified_at == at(30)  # type: ignore[attr-defined]
    assert product.modified_at == at(1)  # the product's date moves on publication only


def test_r6_an_unchanged_form_leaves_the_modification_date() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    assert v1.modify(v1.form(), at(30)) == []  # type: ignore[attr-defined]
    assert v1.modified_at == at(1)  # type: ignore[attr-defined]


def test_r6_an_unpublished_version_cannot_be_modified() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    published(product, 2, 5)
    product.unpublish(v1, at(10))  # type: ignore[arg-type]
    with pytest.raises(RuleBroken) as refused:
        v1.modify(VersionForm(release_note="new"), at(20))  # type: ignore[attr-defined]
    assert refused.value.rule == "R6"
    assert v1.release_note == "note 1"  # type: ignore[attr-defined]


# R7, R8 -----------------------------------------------------------------------------------


def test_r7_the_only_published_version_cannot_be_unpublished() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    with pytest.raises(RuleBroken) as refused:
        product.unpublish(v1, at(5))  # type: ignore[arg-type]
    assert refused.value.rule == "R7"
    assert v1.status is Status.PUBLISHED  # type: ignore[attr-defined]


def test_r7_counts_published_versions_only() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    product.publish(
        VersionForm(omi="ami-00000002", release_note="n"),
        omi(2),
        requested_by="U1",
        approved_by=None,
        at=at(3),
    )  # still publishing
    with pytest.raises(RuleBroken):
        product.unpublish(v1, at(5))  # type: ignore[arg-type]


def test_r8_unpublishing_updates_status_dates_and_last_available_version() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    v2 = published(product, 2, 10)
    product.unpublish(v2, at(20))  # type: ignore[arg-type]
    assert v2.status is Status.UNPUBLISHED  # type: ignore[attr-defined]
    assert v2.modified_at == at(20) and v2.unpublished_at == at(20)  # type: ignore[attr-defined]
    assert product.last_available_version() is v1
    assert product.modified_at == at(20)


def test_r8_only_a_published_version_can_be_unpublished() -> None:
    product = make_product()
    published(product, 1, 0)
    v2 = published(product, 2, 10)
    published(product, 3, 20)
    product.unpublish(v2, at(30))  # type: ignore[arg-type]
    with pytest.raises(RuleBroken, match="only a published version"):
        product.unpublish(v2, at(40))  # type: ignore[arg-type]


# R9 ---------------------------------------------------------------------------------------


def test_r9_a_whole_product_is_unpublished_even_its_last_version() -> None:
    product = make_product()
    v1 = published(product, 1, 0)
    v2 = published(product, 2, 10)
    gone = product.unpublish_all(at(20))
    assert set(gone) == {v1, v2}
    assert all(v.status is Status.UNPUBLISHED for v in product.versions)
    assert product.last_available_version() is None


def test_r9_nothing_published_nothing_to_unpublish() -> None:
    with pytest.raises(RuleBroken, match="no published version"):
        make_product().unpublish_all(T0)


# approvals and pricing ----------------------------------------------------------------------


def test_release_managers_by_id_or_group_and_never_the_requester() -> None:
    product = make_product()
    request = Request(
        kind=RequestKind.UNPUBLISH_PRODUCT, product_code="0001", requested_by="URM1", at=T0
    )
    with pytest.raises(NotAllowed, match="own request"):
        request.check_decidable(product, Actor.slack_user("URM1"))
    with pytest.raises(NotAllowed, match="release managers"):
        request.check_decidable(product, Actor.slack_user("UOTHER", ["SOTHER"]))
    request.check_decidable(product, Actor.slack_user("UGROUPMEMBER", ["SRM"]))  # by group ID
    request.check_decidable(product, Actor.cli_operator("cli:ops"))
    with pytest.raises(NotAllowed, match="own request"):
        # An operator has the database's rights, yet never decides a request of their own.
        Request(
            kind=RequestKind.UNPUBLISH_PRODUCT, product_code="0001", requested_by="cli:ops", at=T0
        ).check_decidable(product, Actor.cli_operator("cli:ops"))


def test_free_and_byol_copies_are_public_paid_ones_are_not() -> None:
    assert Pricing.FREE.public_copy and Pricing.BYOL.public_copy
    assert not any(p.public_copy for p in (Pricing.HOURLY, Pricing.YEARLY, Pricing.SUBSCRIPTION))
