"""The Slack surface's fixtures (fake Web API, the bot on loopback), for the operator's
endpoints that `omi-bot serve` answers."""

from tests.bot.conftest import bot_settings, fake_slack, slack, start_bot

__all__ = ["bot_settings", "fake_slack", "slack", "start_bot"]
