"""Fixtures for the Slack surface: a fake Web API and the bot's HTTP shell on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from slack_bolt import App

from bot.app import BotSettings, create_app
from bot.runtime import install
from bot.server import RunningServer, start_in_thread
from cli.main import main
from commands import services
from commands.bootstrap import Core
from commands.notifications.slack import Pacer, deliver_slack, slack_client
from commands.sandbox import SandboxServer
from commands.worker import Worker
from tests.bot.pipeline import Cli, Step
from tests.processes import ROOT, omi_env
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


# -- requests from a pipeline: the CLI in-process and as a process, a worker posting to Slack --


@pytest.fixture
def cli(
    database_url: str, osc_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    env = {
        "OMI_DATABASE_URL": database_url,
        "OMI_SELLER_PROFILE": "seller",
        "OMI_DISTRIBUTION_PROFILE": "distribution",
        "OMI_MAILDIR": str(tmp_path / "mail"),
        "OMI_OSC_RATE_LIMIT": "1000",
        "OMI_OSC_MAX_RETRIES": "1",
        "OMI_OSC_RETRY_BACKOFF": "0.01",
        "OMI_WORKER_POLL_SECONDS": "0.05",
        "OMI_DEBUG": "",
        "OMI_ALLOW_DIRECT": "",
    }
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    runner = CliRunner()

    def run(*args: str, **extra: str) -> Result:
        return runner.invoke(main, list(args), env={**env, **extra}, catch_exceptions=False)

    return run


@pytest.fixture
def worker(core: Core, fake_slack: FakeSlackAPI) -> Iterator[Worker]:
    """`omi-bot serve`'s worker: jobs, and the outbox's Slack messages to the fake Web API."""
    client = slack_client(BOT_TOKEN, fake_slack.url)
    running = Worker(
        core,
        name="test-worker",
        deliverers=[lambda: deliver_slack(core, "test-worker", client, pacer=Pacer(timedelta(0)))],
    )
    stop = threading.Event()
    # Until the test ends, however slow the machine: the test stops it.
    thread = threading.Thread(target=running.run_until, args=(stop.is_set, 3600), daemon=True)
    thread.start()
    yield running
    stop.set()
    thread.join(30)


@pytest.fixture
def step(database_url: str, osc_config: Path, tmp_path: Path) -> Callable[..., Step]:
    env = omi_env(database_url, osc_config, tmp_path, PYTHONPATH=str(ROOT))

    def start(*args: str) -> Step:
        return Step(list(args), env, tmp_path)

    return start
