"""The fake's views.* methods: modals opened, pushed and updated, App Home published. Views
are checked as Slack checks them (type, title length, at most 100 blocks) and kept, with a new
hash on every store, so a stale `views.update` meets `hash_conflict` as on Slack."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from tests.slackfake.answers import SlackResult, not_ok

MAX_VIEW_BLOCKS = 100
MAX_MODAL_TITLE = 24


class ViewsMethods:
    """views.* of :class:`~tests.slackfake.FakeSlackAPI`, which holds their state."""

    # The fake's state these methods use; FakeSlackAPI sets it up.
    bot_id: str
    team_id: str
    app_id: str
    _lock: threading.Lock
    _views: dict[str, dict[str, Any]]
    _external_ids: dict[str, str]
    _view_seq: int

    def _check_view(self, view: Any) -> dict[str, Any] | None:
        if not isinstance(view, dict):
            return not_ok("invalid_arguments", "[ERROR] missing required field: view")
        if view.get("type") not in {"modal", "home"}:
            return not_ok(
                "invalid_arguments",
                "[ERROR] must be one of [modal, home, workflow_step] [json-pointer:/view/type]",
            )
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            return not_ok("invalid_arguments", "[ERROR] missing required field: blocks")
        if len(blocks) > MAX_VIEW_BLOCKS:
            return not_ok(
                "invalid_arguments",
                f"[ERROR] must provide no more than {MAX_VIEW_BLOCKS} items "
                "[json-pointer:/view/blocks]",
            )
        if view["type"] == "modal":
            title = view.get("title")
            if not isinstance(title, dict) or "text" not in title:
                return not_ok("invalid_arguments", "[ERROR] missing required field: title")
            if len(str(title["text"])) > MAX_MODAL_TITLE:
                return not_ok(
                    "invalid_arguments",
                    f"[ERROR] must be less than {MAX_MODAL_TITLE + 1} characters "
                    "[json-pointer:/view/title/text]",
                )
        return None

    def _store_view(
        self, view: dict[str, Any], view_id: str | None = None, root_id: str | None = None,
        previous_id: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._view_seq += 1
            if view_id is None:
                view_id = f"V{self._view_seq:08X}"
            # A new hash on every store, so a stale hash in views.update is detectable.
            view_hash = f"{int(time.time())}.{self._view_seq:08x}"
            stored = {
                "id": view_id,
                "team_id": self.team_id,
                "type": view["type"],
                "blocks": view["blocks"],
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
                "state": {"values": {}},
                "hash": view_hash,
                "title": view.get("title"),
                "clear_on_close": bool(view.get("clear_on_close", False)),
                "notify_on_close": bool(view.get("notify_on_close", False)),
                "close": view.get("close"),
                "submit": view.get("submit"),
                "previous_view_id": previous_id,
                "root_view_id": root_id or view_id,
                "app_id": self.app_id,
                "external_id": view.get("external_id", ""),
                "app_installed_team_id": self.team_id,
                "bot_id": self.bot_id,
            }
            self._views[view_id] = stored
            if stored["external_id"]:
                self._external_ids[stored["external_id"]] = view_id
            return copy.deepcopy(stored)


    def _views_open(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            return 200, not_ok(
                "invalid_arguments", "[ERROR] missing required field: trigger_id"
            ), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "view": self._store_view(view)}, {}

    def _views_push(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            return 200, not_ok(
                "invalid_arguments", "[ERROR] missing required field: trigger_id"
            ), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "view": self._store_view(view)}, {}

    def _views_update(self, params: dict[str, Any]) -> SlackResult:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            return 200, not_ok(
                "invalid_arguments", "[ERROR] missing required field: view_id or external_id"
            ), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        with self._lock:
            if not view_id:
                view_id = self._external_ids.get(str(external_id))
                if view_id is None:
                    return 200, not_ok("not_found"), {}
            known = copy.deepcopy(self._views.get(str(view_id)))
        # Views the fake never opened (ids made up by a signed test payload) are accepted:
        # the fake cannot know every view Slack would hold.
        wanted_hash = params.get("hash")
        if known is not None and wanted_hash and wanted_hash != known["hash"]:
            return 200, not_ok("hash_conflict"), {}
        if external_id and "external_id" not in view:
            view = {**view, "external_id": external_id}
        root = known["root_view_id"] if known else None
        previous = known["previous_view_id"] if known else None
        stored = self._store_view(view, view_id=str(view_id), root_id=root, previous_id=previous)
        return 200, {"ok": True, "view": stored}, {}

    def _views_publish(self, params: dict[str, Any]) -> SlackResult:
        if not params.get("user_id"):
            return 200, not_ok("invalid_arguments", "[ERROR] missing required field: user_id"), {}
        view = params.get("view")
        problem = self._check_view(view)
        if problem is not None:
            return 200, problem, {}
        return 200, {"ok": True, "view": self._store_view(view)}, {}

