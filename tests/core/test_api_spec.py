"""The OUTSCALE API spec osc-sdk-python parses: once per process, and once per SDK version when
a cache folder is set (OMI_CACHE_DIR)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from osc_sdk_python import Gateway

from commands import outscale
from commands.config import Settings
from commands.outscale import Account


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch, osc_config: Path) -> Iterator[list[str]]:
    """The specs the SDK parses, each process's memory of them forgotten first."""
    monkeypatch.setattr(outscale, "_SPEC_CACHE", {})
    seen: list[str] = []
    real = Gateway._convert

    def convert(self: Any, spec: str) -> Any:
        seen.append(spec)
        return real(self, spec)

    monkeypatch.setattr(Gateway, "_convert", convert)
    yield seen


def seller(cache: Path | None) -> Account:
    return Account.from_profile("seller", "seller", 5.0, cache_dir=cache)


def forget(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new process would see: nothing in memory."""
    monkeypatch.setattr(outscale, "_SPEC_CACHE", {})


def test_a_kept_spec_spares_a_later_process_the_parse(
    tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = seller(cache)
    (kept,) = cache.iterdir()
    forget(monkeypatch)

    later = seller(cache)

    assert len(parses) == 1
    assert kept.name.startswith(f"osc-sdk-python-{outscale.sdk_version()}-")
    assert later.gateway.gateway_structure == first.gateway.gateway_structure
    assert later.gateway.endpoint_api_version == first.gateway.endpoint_api_version
    assert later.gateway.api_version == first.gateway.api_version
    # The SDK checks every call's parameters against it: a real call through the sandbox.
    assert later.account_id == first.account_id
    assert later.image("ami-5e11e002") is not None


def test_without_a_cache_folder_each_process_parses_and_keeps_nothing(
    tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seller(None)
    seller(None)  # the same process: parsed once
    forget(monkeypatch)
    seller(None)

    assert len(parses) == 2
    assert list(tmp_path.glob("**/osc-sdk-python-*.json")) == []


def test_a_sparse_or_damaged_kept_spec_is_parsed_again_and_replaced(
    tmp_path: Path,
    parses: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = tmp_path / "cache"
    seller(cache)
    (kept,) = cache.iterdir()
    good = json.loads(kept.read_text())
    for damage in ("{not json", json.dumps({"structure": {}}), ""):
        kept.write_text(damage)
        forget(monkeypatch)
        with caplog.at_level(logging.INFO, logger="omi_bot.outscale"):
            account = seller(cache)
        assert "unreadable" in caplog.text
        caplog.clear()
        assert json.loads(kept.read_text()) == good
        assert account.account_id

    assert len(parses) == 4


def test_a_cache_folder_that_cannot_be_written_only_costs_the_parse(
    tmp_path: Path,
    parses: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")

    with caplog.at_level(logging.INFO, logger="omi_bot.outscale"):
        account = seller(blocker / "cache")

    assert account.account_id
    assert len(parses) == 1
    assert "cannot keep the parsed OUTSCALE API spec" in caplog.text
    assert blocker.read_text() == "a file where the cache folder should be"


def test_another_spec_is_kept_under_another_name(tmp_path: Path, parses: list[str]) -> None:
    """An upgraded SDK ships another spec: it is parsed, not answered from the old one."""
    cache = tmp_path / "cache"
    gateway = seller(cache).gateway
    changed = tmp_path / "outscale.yaml"
    changed.write_text(Path(parses[0]).read_text() + "\n# another release\n")

    gateway._load_gateway_structure(str(changed))  # what the SDK's __init__ calls

    assert parses[1:] == [str(changed)]
    assert len(list(cache.iterdir())) == 2


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"OMI_CACHE_DIR": "/srv/omi/cache", "HOME": "/home/omi"}, "/srv/omi/cache"),
        ({"XDG_CACHE_HOME": "/var/cache/u", "HOME": "/home/omi"}, "/var/cache/u/omi-bot"),
        ({"HOME": "/home/omi"}, "/home/omi/.cache/omi-bot"),
        ({}, None),
    ],
)
def test_the_cache_folder_from_the_environment(
    environ: dict[str, str], expected: str | None
) -> None:
    assert Settings.from_env(environ).cache_dir == expected
