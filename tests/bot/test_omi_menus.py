"""The OMI menu's list held in memory (bot.omis): fetched urgently only when none is held; a
list past its time still answers while its refresh waits for the answers in flight."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from bot import omis as omis_module
from bot.omis import OmiMenus
from commands.model import Omi


def test_a_stale_list_answers_at_once_and_is_refreshed_after_the_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = [[Omi("ami-00000001", "first", "111111111111", ("0001",), "available")]]

    def selectable(_core: Any, _code: str) -> list[Omi]:
        return listed[-1]

    monkeypatch.setattr(omis_module.services, "selectable_omis", selectable)
    submitted: list[bool] = []
    queued: list[Callable[[], None]] = []

    def submit(fn: Callable[[], None], urgent: bool) -> Future[None]:
        submitted.append(urgent)
        if urgent:
            return pool.submit(fn)
        queued.append(fn)  # runs once the answers in flight have theirs
        return Future()

    menus = OmiMenus(submit, lambda o: {"value": o.image_id}, ttl=0.0)
    with ThreadPoolExecutor(1) as pool:
        assert menus.matching(None, "0001", "", 10) == [{"value": "ami-00000001"}]  # type: ignore[arg-type]
        assert submitted == [True]  # nothing held: the answer waits for the list
    listed.append([Omi("ami-00000002", "second", "111111111111", ("0001",), "available")])
    assert menus.matching(None, "0001", "", 10) == [{"value": "ami-00000001"}]  # type: ignore[arg-type]
    assert submitted == [True, False]  # held, if stale: answered from it, refreshed later
    queued.pop()()
    assert menus.matching(None, "0001", "", 10) == [{"value": "ami-00000002"}]  # type: ignore[arg-type]
