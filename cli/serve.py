"""`omi-bot serve`: the Slack bot over HTTP (waitress) or Socket Mode, with the worker."""

from __future__ import annotations

import logging

import click

logger = logging.getLogger(__name__)


@click.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: $PORT, else 3000).")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--no-worker", is_flag=True, help="Do not run the job worker in this process.")
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Also serve /metrics, /readyz and /healthz on this port (for Socket Mode, which has "
    "no HTTP port; over HTTP they are on the Slack port too).",
)
def serve(port: int | None, host: str, no_worker: bool, metrics_port: int | None) -> None:
    """Serve the Slack app at /slack/events (Socket Mode when SLACK_APP_TOKEN is set).

    Stops on SIGTERM or SIGINT within OMI_SHUTDOWN_SECONDS, exiting 0."""
    from bot.app import BotSettings
    from bot.service import Service
    from commands import lifecycle
    from commands.bootstrap import bootstrap
    from commands.errors import OmiError

    try:
        settings = BotSettings.from_env()
    except ValueError as bad:
        raise click.UsageError(str(bad)) from None
    try:
        core = bootstrap()
    except OmiError as failed:
        raise click.ClickException(str(failed)) from None
    logging.getLogger("omi_bot").setLevel(logging.INFO)
    from urllib.error import URLError

    from slack_sdk.errors import SlackApiError

    try:
        # Against the real Slack, building the app checks the bot token (auth.test).
        service = Service(
            settings,
            core,
            host=host,
            port=port,
            with_worker=not no_worker,
            metrics_port=metrics_port,
        )
        service.start()
    except URLError as unreachable:
        raise click.ClickException(f"Slack could not be reached: {unreachable.reason}.") from None
    except OSError as bad:
        raise click.ClickException(f"cannot listen on {host}: {bad.strerror or bad}.") from None
    except SlackApiError as refused:
        error = refused.response.get("error")
        raise click.ClickException(f"Slack refused the app's token: {error}.") from None
    lifecycle.wait_for_stop()
    lifecycle.exit_when_done(service.stop())
