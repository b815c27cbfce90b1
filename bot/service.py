"""`omi-bot serve` as a process: the Slack surface (HTTP or Socket Mode) and the worker
beside it, started together and stopped in order.

On SIGTERM, within OMI_SHUTDOWN_SECONDS: no new Slack request is taken (the HTTP port closes;
over Socket Mode new envelopes go unacknowledged, so Slack delivers them again elsewhere), the
requests under way answer and finish what they do after their acknowledgement, the worker
takes no new job and its running step ends or gives its lease back; then the process exits 0.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import BotSettings
from bot.runtime import Later, build_app, warm_up
from bot.server import RunningServer, start_in_thread, start_socket_mode
from commands import health, metrics
from commands.bootstrap import Core
from commands.lifecycle import settle_heap
from commands.probes import ProbeServer, probes_app
from commands.worker import Worker

log = logging.getLogger("omi_bot.serve")


@dataclass
class Service:
    settings: BotSettings
    core: Core
    host: str = "0.0.0.0"
    port: int | None = None
    with_worker: bool = True
    threads: int = 8
    ping_interval: float = 10
    # Socket Mode has no HTTP port: /metrics, /readyz and /healthz on this one instead.
    metrics_port: int | None = None
    app: App = field(init=False)
    worker: Worker | None = field(init=False, default=None)
    http: RunningServer | None = field(init=False, default=None)
    socket: SocketModeHandler | None = field(init=False, default=None)
    _scheduler: BackgroundScheduler | None = field(init=False, default=None)
    probes: ProbeServer | None = field(init=False, default=None)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.later = Later()
        self.app = build_app(self.settings, self.core, accepting=self.accepting, later=self.later)
        self.metrics = metrics.Exposition(self.core)

    def accepting(self) -> bool:
        return not self._stopping.is_set()

    def ready(self) -> health.Readiness:
        """/readyz: the database, its migrations, the worker's thread when this process runs
        one; not ready either once stopping."""
        worker = self.worker
        state = health.readiness(self.core, worker.alive if worker is not None else None)
        return health.Readiness({**state.checks, "accepting": self.accepting()})

    def start(self) -> Service:
        warm_up(self.core)
        settle_heap()
        if self.with_worker:
            self.worker = Worker(self.core, role="serve")
            self._scheduler = self.worker.start_background()
        if self.settings.app_token:
            log.info("connecting to Slack over Socket Mode")
            self.socket = start_socket_mode(
                self.app, self.settings.app_token, ping_interval=self.ping_interval
            )
        else:
            port = self.settings.port if self.port is None else self.port
            self.http = start_in_thread(
                self.app,
                self.core.db.reachable,
                self.host,
                port,
                self.threads,
                ready=self.ready,
                metrics=self.metrics,
            )
        if self.metrics_port is not None:
            application = probes_app(self.ready, self.metrics, self.core.db.reachable)
            self.probes = ProbeServer(application, self.host, self.metrics_port).start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Stops in order within `timeout` seconds (OMI_SHUTDOWN_SECONDS by default). True
        when everything ended in time; False when a step was given back still running."""
        seconds = self.core.settings.shutdown_seconds if timeout is None else timeout
        deadline = time.monotonic() + seconds
        self._stopping.set()
        if self.http is not None:
            self.http.close()
        if self.worker is not None:
            self.worker.stop()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        answered = True
        if self.http is not None:
            answered = self.http.wait_idle(_left(deadline))
        # What listeners do after their acknowledgement (views.update, posts) runs on their
        # own pool: it must end too before the process does.
        answered = self.later.drain(_left(deadline)) and answered
        if self.socket is not None:
            self.socket.close()
        if self.http is not None:
            self.http.stop(timeout=max(_left(deadline), 0.5))
        if self.probes is not None:
            self.probes.stop()
        finished = True
        if self.worker is not None:
            finished = self.worker.finish(_left(deadline))
            self.worker.said_goodbye()
        if not answered:
            log.warning("Slack requests were still being handled at the end of the shutdown")
        log.info("stopped")
        return finished and answered


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())

