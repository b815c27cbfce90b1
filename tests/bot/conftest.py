"""Fixtures for the Slack surface: a fake Web API and the bot's HTTP shell on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from slack_bolt import App

from bot.app import BotSettings, create_app
from bot.runtime import install
from bot.server import RunningServer, start_in_thread
from commands import services
from commands.bootstrap import Core
from commands.sandbox import SandboxServer
from tests.slackfake import FakeSlackAPI
from tests.slackfake.signing import SlackClient

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"

StartBot = Callable[..., tuple[RunningServer, SlackClient]]


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI(token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def bot_settings(fake_slack: FakeSlackAPI) -> BotSettings:
    return BotSettings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=None,
        api_url=fake_slack.url,
        port=0,
    )


@pytest.fixture
def start_bot(
    bot_settings: BotSettings, fake_slack: FakeSlackAPI
) -> Iterator[StartBot]:
    """``start_bot(register, health=lambda: True)`` -> (server, signed Slack client)."""
    running: list[RunningServer] = []

    def start(
        register: Callable[[App], None] | None = None,
        health: Callable[[], bool] = lambda: True,
    ) -> tuple[RunningServer, SlackClient]:
        app = create_app(bot_settings, register)
        server = start_in_thread(app, health)
        running.append(server)
        client = SlackClient(server.url, SIGNING_SECRET, response_urls=fake_slack.response_url)
        return server, client

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def slack(
    start_bot: StartBot, core: Core, product: str, sandbox: SandboxServer, fake_slack: FakeSlackAPI
) -> SlackClient:
    """The bot with every listener on the core, product 0001 (release managers URM1, URM2 and
    the members of group SRM: UGRP), the sandbox behind it."""
    fake_slack.set_usergroup("SRM", ["UGRP"])
    # Building an osc-sdk gateway takes seconds the first time; serve warms it up at start too.
    services.selectable_omis(core, product)
    _, client = start_bot(lambda app: install(app, core), health=core.db.reachable)
    return client
