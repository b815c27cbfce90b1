"""`omi-bot serve`: the Slack bot over HTTP (waitress) or Socket Mode, with the worker."""

from __future__ import annotations

import logging

import click

from cli.main import main

logger = logging.getLogger(__name__)


@main.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: $PORT, else 3000).")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--no-worker", is_flag=True, help="Do not run the job worker in this process.")
def serve(port: int | None, host: str, no_worker: bool) -> None:
    """Serve the Slack app at /slack/events (Socket Mode when SLACK_APP_TOKEN is set)."""
    from bot.app import BotSettings
    from bot.runtime import build_app, warm_up
    from bot.server import serve as serve_http
    from bot.server import serve_socket_mode
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
    app = build_app(settings, core)
    warm_up(core)
    scheduler = None
    if not no_worker:
        from commands.worker import Worker

        scheduler = Worker(core).start_background()
    try:
        if settings.app_token:
            logger.info("connecting to Slack over Socket Mode")
            serve_socket_mode(app, settings.app_token)
        else:
            serve_http(
                app, core.db.reachable, host=host, port=settings.port if port is None else port
            )
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
