"""The Versions table as the database reads it (R1): its order, its number of versions kept with
the product, and the last available version, the same in the products list, in the table and
in the domain's own reckoning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commands import services
from commands.bootstrap import Core
from commands.model import Omi, Pricing, Product, VersionForm
from tests.conftest import SELLER

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def omi(code: str, n: int) -> Omi:
    return Omi(f"ami-{code}{n:04d}", f"image-{code}-{n}", SELLER, (code,), "available")


def publish(product: Product, n: int, created: int, done: int | None) -> str:
    form = VersionForm(omi=omi(product.code, n).image_id, release_note=f"note {n}")
    version = product.publish(
        form, omi(product.code, n), requested_by="U1", approved_by="URM1", at=at(created)
    )
    if done is not None:
        product.publication_done(version, at(done))
    return version.id


def test_the_products_list_the_table_and_the_domain_agree_on_the_last_available(
    core: Core,
) -> None:
    with core.uow() as uow:
        made = {}
        for code in ("P1", "P2", "P3", "P4"):
            made[code] = Product(
                code=code, name=code, seller_account_id=SELLER, pricing=Pricing.HOURLY, at=T0
            )
            uow.products.add(made[code])
        publish(made["P1"], 1, 0, 1)
        publish(made["P1"], 2, 2, 3)  # the newest published
        publish(made["P1"], 3, 4, None)  # still publishing: not available
        first = publish(made["P2"], 1, 0, 1)
        second = publish(made["P2"], 2, 2, 3)
        made["P2"].unpublish(made["P2"].version(second), at(5))
        publish(made["P3"], 1, 0, 7)  # two versions published at the same moment:
        publish(made["P3"], 2, 1, 7)  # the ID decides, as everywhere
        uow.commit()
        expected = {code: p.last_available_version() for code, p in made.items()}
    assert expected["P2"] is not None and expected["P2"].id == first
    assert expected["P4"] is None

    lines = {line.product.code: line for line in services.list_products(core)}
    for code, last in expected.items():
        table = services.versions_table(core, code, limit=1)
        shown = [lines[code].last_available, table.last_available]
        assert [v.id if v else None for v in shown] == [last.id if last else None] * 2
        assert lines[code].published == len(made[code].published_versions())


def test_the_table_counts_its_versions_and_reads_them_newest_first(core: Core) -> None:
    with core.uow() as uow:
        product = Product(
            code="P1", name="P1", seller_account_id=SELLER, pricing=Pricing.HOURLY, at=T0
        )
        uow.products.add(product)
        ids = [publish(product, n, n // 2, None) for n in range(7)]  # pairs created together
        uow.commit()
    table = services.versions_table(core, "P1", limit=3)
    assert table.total == 7
    newest_first = sorted(ids, key=lambda i: (ids.index(i) // 2, i), reverse=True)
    assert [v.id for v in table.rows] == newest_first[:3]
    page = services.versions_table(core, "P1", limit=3, offset=3)
    assert [v.id for v in page.rows] == newest_first[3:6]
    assert [v.id for v in services.versions_table(core, "P1").rows] == newest_first
    with core.uow() as uow:
        assert uow.versions.count("P1") == 7
