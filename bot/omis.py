"""The OMIs a product's Version form offers (R2), kept in memory for the OMI menu.

Slack gives an options load 3 seconds, and asking OUTSCALE for a seller's OMIs can take longer
(a large account, latency, retries). Each product's list is fetched when its Version form opens,
and again in the background once it is older than `ttl`; a menu is answered from what is held.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from commands import services
from commands.bootstrap import Core
from commands.model import Omi

logger = logging.getLogger(__name__)

# Runs a fetch on the pool; `urgent`: an answer waits on it, so it does not yield to answers.
Submit = Callable[[Callable[[], None], bool], Future[None]]


@dataclass(frozen=True)
class _Entry:
    at: float
    omis: tuple[Omi, ...]
    # Made once per list, not per keystroke: a menu filters thousands as the seller types.
    keys: tuple[str, ...]  # lower-cased "name id"
    options: tuple[dict[str, Any], ...]  # the Block Kit option of each OMI


class OmiMenus:
    """`option` builds the Block Kit option of an OMI (bot.views.omi_option)."""

    def __init__(
        self,
        submit: Submit,
        option: Callable[[Omi], dict[str, Any]],
        ttl: float = 60.0,
        wait: float = 1.0,
    ) -> None:
        self._option = option
        self._submit = submit
        self.ttl = ttl
        # How long a menu whose list was never fetched waits for the fetch under way.
        self.wait = wait
        self._entries: dict[str, _Entry] = {}
        self._fetching: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def prefetch(self, core: Core, code: str, urgent: bool = False) -> Future[None] | None:
        """Start fetching the product's OMIs unless a fresh list is held or a fetch runs.
        A form that opens has seconds before its menu is loaded, so its fetch waits for the
        answers in flight like other work after an answer; a menu with no list held at all
        fetches `urgent`."""
        with self._lock:
            entry = self._entries.get(code)
            if entry is not None and time.monotonic() - entry.at < self.ttl:
                return None
            running = self._fetching.get(code)
            if running is not None:
                return running
            future = self._submit(lambda: self._fetch(core, code), urgent)
            self._fetching[code] = future
            return future

    def _fetch(self, core: Core, code: str) -> None:
        try:
            omis = tuple(services.selectable_omis(core, code))
        except Exception as exc:
            logger.warning("OMIs of product %s could not be listed: %s", code, type(exc).__name__)
            return
        finally:
            with self._lock:
                self._fetching.pop(code, None)
        keys = tuple(f"{o.name} {o.image_id}".lower() for o in omis)
        options = tuple(self._option(o) for o in omis)
        with self._lock:
            self._entries[code] = _Entry(time.monotonic(), omis, keys, options)

    def matching(self, core: Core, code: str, typed: str, limit: int) -> list[dict[str, Any]]:
        """The options of the held OMIs whose name or ID contains `typed`, at most `limit`.
        A list held past its `ttl` still answers; its refresh waits for the answers in flight
        (fetching thousands of OMIs at once would hold up every answer being made)."""
        with self._lock:
            entry = self._entries.get(code)
        running = self.prefetch(core, code, urgent=entry is None)
        if entry is None and running is not None:
            try:
                running.result(timeout=self.wait)
            except Exception:
                logger.info("OMI menu of product %s answered before its list arrived", code)
            with self._lock:
                entry = self._entries.get(code)
        if entry is None:
            return []
        needle = typed.strip().lower()
        found: list[dict[str, Any]] = []
        for option, key in zip(entry.options, entry.keys, strict=True):
            if needle in key:
                found.append(option)
                if len(found) == limit:
                    break
        return found
