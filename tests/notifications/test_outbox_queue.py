"""Queueing many notices at once: read and inserted a chunk at a time, each key once, those
queued before left alone, whatever chunk they fall in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from commands.bootstrap import Core
from commands.model import OutboxItem
from storage.outbox import CHUNK

AT = datetime(2026, 1, 1, tzinfo=UTC)


def item(n: int, *, recipient: str | None = None) -> OutboxItem:
    return OutboxItem(
        channel="email",
        key=f"version_published:ver-1:user{n}@example.com",
        event="version_published",
        product_code="0001",
        version_id=None,
        recipient=recipient or f"user{n}@example.com",
        language="en",
        payload={"subject": "s", "text": "t", "html": "h", "version_ids": []},
        at=AT,
    )


def test_more_than_a_chunk_is_queued_each_key_once(core: Core) -> None:
    total = 2 * CHUNK + 7
    with core.uow() as uow:
        # Queued before: one in the first chunk, one in the last.
        assert uow.outbox.add_all([item(3), item(2 * CHUNK + 5)]) == 2
        uow.commit()

    made: list[int] = []

    def items() -> Iterator[OutboxItem]:
        for n in range(total):
            made.append(n)
            yield item(n)
        # The same key again, in another chunk than its first: kept once, as first given.
        yield item(1, recipient="someone-else@example.com")

    with core.uow() as uow:
        assert uow.outbox.add_all(items()) == total - 2
        uow.commit()
    assert made == list(range(total))
    with core.uow() as uow:
        queued = uow.outbox.list(channel="email", limit=10 * total)
    assert len(queued) == total
    assert len({i.key for i in queued}) == total
    assert {i.recipient for i in queued if i.key.endswith(":user1@example.com")} == {
        "user1@example.com"
    }


def test_nothing_is_queued_twice_when_the_same_event_is_queued_again(core: Core) -> None:
    with core.uow() as uow:
        assert uow.outbox.add_all(item(n) for n in range(CHUNK + 1)) == CHUNK + 1
        uow.commit()
    with core.uow() as uow:
        assert uow.outbox.add_all(item(n) for n in range(CHUNK + 1)) == 0
        uow.commit()
