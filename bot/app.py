"""Builds the Bolt app from settings; listeners are plugged in by a ``register(app)`` callable.

Listener packages (``bot/listeners/{commands,views,actions,options,events}``) each expose
``register(app)``; keeping construction here and registration there lets tests build the same
app with only the listeners they need.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from slack_bolt import App, BoltRequest, BoltResponse

from commands.logs import ContextPool

__all__ = ["SLACK_API_URL", "BotSettings", "around_dispatch", "create_app"]

Dispatch = Callable[[BoltRequest], BoltResponse]

SLACK_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000


def _normalise_api_url(url: str) -> str:
    # WebClient joins method names with urljoin, which drops the last path segment unless the
    # base ends with "/": "http://h/api" + "chat.postMessage" would become "http://h/chat...".
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True, repr=False)
class BotSettings:
    bot_token: str
    signing_secret: str
    app_token: str | None = None
    api_url: str = SLACK_API_URL
    port: int = DEFAULT_PORT

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", _normalise_api_url(self.api_url))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> BotSettings:
        """Read ``SLACK_*`` and ``PORT``; raises ValueError naming a missing or bad variable."""

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise ValueError(f"{name} is not set; the Slack app settings page gives its value.")
            return value

        bot_token = required("SLACK_BOT_TOKEN")
        signing_secret = required("SLACK_SIGNING_SECRET")
        app_token = environ.get("SLACK_APP_TOKEN", "").strip() or None
        api_url = environ.get("SLACK_API_URL", "").strip() or SLACK_API_URL
        raw_port = environ.get("PORT", "").strip() or str(DEFAULT_PORT)
        try:
            port = int(raw_port)
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            raise ValueError("PORT must be a whole number between 0 and 65535.")
        return cls(
            bot_token=bot_token,
            signing_secret=signing_secret,
            app_token=app_token,
            api_url=api_url,
            port=port,
        )

    @property
    def uses_real_slack(self) -> bool:
        return self.api_url == SLACK_API_URL

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; only say whether a secret is present.
        def hidden(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"BotSettings(bot_token={hidden(self.bot_token)}, "
            f"signing_secret={hidden(self.signing_secret)}, "
            f"app_token={hidden(self.app_token)}, api_url={self.api_url!r}, port={self.port})"
        )

    __str__ = __repr__


def create_app(settings: BotSettings, register: Callable[[App], None] | None = None) -> App:
    """A Bolt app whose Web API client targets ``settings.api_url``.

    Token verification (an ``auth.test`` at construction) only happens against the real Slack,
    so pointing ``SLACK_API_URL`` at a local fake never reaches the network during start-up.
    """
    # The token is given to App, not in a client of our own: App also reads SLACK_BOT_TOKEN
    # from the environment, and with both a client and that token it warns at every start that
    # the token will be unused. The client it builds is then pointed at settings.api_url.
    app = App(
        token=settings.bot_token,
        signing_secret=settings.signing_secret,
        # Each listener answers, then hands what follows to its own pool (bot.runtime.Later)
        # and returns: the answer is sent as it returns, on the request's own thread. Bolt's
        # other way runs the listener on a second pool while the request's thread polls for
        # the ack every 10 ms, which cost more CPU than most answers (0.4 to 1.5 ms each,
        # measured under benchmarks.slack_ack's load) and up to 10 ms of each answer's time.
        process_before_response=True,
        token_verification_enabled=settings.uses_real_slack,
        # For lazy listeners only (none now): they would run in the context of the request
        # (its ID and the user's in every log line).
        listener_executor=ContextPool(max_workers=5),
    )
    app.client.base_url = settings.api_url
    if register is not None:
        register(app)
    return app


def around_dispatch(app: App, around: Callable[[BoltRequest, Dispatch], BoltResponse]) -> None:
    """Runs `around(request, dispatch)` over each request's whole dispatch, up to its answer
    (Slack's acknowledgement), in HTTP and Socket Mode alike: both adapters call
    `app.dispatch`. A Bolt middleware cannot: its `next()` only marks that the chain may go on,
    and the listeners run once the middleware has returned."""
    inner: Dispatch = app.dispatch

    def dispatch(request: BoltRequest) -> BoltResponse:
        return around(request, inner)

    app.dispatch = dispatch  # type: ignore[method-assign]
