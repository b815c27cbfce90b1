"""Every listener of the bot, by kind; `register(app)` plugs them all into a Bolt app."""

from __future__ import annotations

import importlib
import importlib.util

from slack_bolt import App

from bot.listeners import actions, commands, options, preview, views


def register(app: App) -> None:
    commands.register(app)
    views.register(app)
    actions.register(app)
    options.register(app)
    preview.register(app)
    # App Home's listeners live in their own module, which may not exist yet.
    if importlib.util.find_spec("bot.listeners.events") is not None:
        importlib.import_module("bot.listeners.events").register(app)
