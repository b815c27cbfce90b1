"""How a long-running omi-bot process (`serve`, `worker`) settles once started, waits for its
stop signal and ends.

Containers and systemd stop a service with SIGTERM, then SIGKILL once their own grace period
is over; OMI_SHUTDOWN_SECONDS (default 20) must stay below that grace period."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from types import FrameType

log = logging.getLogger("omi_bot")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def settle_heap() -> None:
    """Moves what start-up made (modules, the OUTSCALE gateways, the Slack app and its
    listeners: some 120,000 objects) out of the garbage collector's reach, once it is made.
    Every full collection walked them all: 50 to 100 ms during which nothing moved, every few
    seconds under load, which made the slowest Slack answers (4 ms with them set aside); and
    the more a job allocates, the more full collections it meets, so a publication's notices
    to 10,000 recipients took 6.5 times those to 2,000 (5 times with them set aside). What
    start-up made lives as long as the process, so nothing is kept that would have gone."""
    gc.collect()
    gc.freeze()


def wait_for_stop(stop: threading.Event | None = None) -> None:
    """Blocks the main thread until SIGTERM or SIGINT (or until `stop` is set)."""
    stop = stop or threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        # Short waits: the handler runs between two of them, whatever the platform's locks do.
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def exit_when_done(done: bool) -> None:
    """Returns when everything stopped in time. Otherwise a step is still blocked in a call
    whose work was given back (its lease released): the process ends now, with 0 since the
    stop went as designed, without waiting for that thread."""
    if done:
        return
    log.warning("stopping without waiting for the work that was given back")
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
