"""Logs: one line per event, JSON with OMI_LOG_FORMAT=json, the context (request ID, Slack user
ID, version ID, job ID) on the lines written inside it, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands import logs
from commands.bootstrap import Core
from commands.model import Job
from commands.worker import Worker
from tests.processes import ROOT


class Written(io.StringIO):
    """A buffer the handler writes to; reading it waits for the lines logged so far, which
    the handler writes from a thread of its own."""

    handler: logs.Background | None = None

    def getvalue(self) -> str:
        if self.handler is not None:
            self.handler.flush()
        return super().getvalue()


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """A handler like the one `configure` installs, writing to a buffer."""
    stream = Written()
    handler = logs.configure(verbose=True, environ={"OMI_LOG_FORMAT": "json"}, alongside=True)
    assert handler is not None
    handler.setStream(stream)
    stream.handler = handler
    yield stream, handler
    logging.getLogger().removeHandler(handler)
    handler.close()
    logging.getLogger().setLevel(logging.WARNING)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_context(captured) -> None:
    stream, _ = captured
    log = logging.getLogger("omi_bot.test")
    log.info("outside")
    with logs.bound(request_id="T123", user_id="U42"):
        with logs.bound(version_id="ver-0123456789", job_id=7):
            log.warning("inside %s", "both")
        log.info("request only")
    first, inside, request_only = lines(stream)
    assert first["message"] == "outside" and "request_id" not in first
    assert inside == {
        "ts": inside["ts"],
        "level": "warning",
        "logger": "omi_bot.test",
        "message": "inside both",
        "request_id": "T123",
        "user_id": "U42",
        "version_id": "ver-0123456789",
        "job_id": "7",
    }
    assert request_only["request_id"] == "T123" and "job_id" not in request_only


class Watched(io.StringIO):
    """A buffer that remembers which threads wrote to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[threading.Thread] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread())
        return super().write(text)


def test_lines_are_kept_by_the_caller_and_written_by_a_thread_of_their_own() -> None:
    stream = Watched()
    output = logging.StreamHandler(stream)
    output.setFormatter(logs.JsonFormatter())
    handler = logs.Background(output, every=3600)  # written only when a warning wakes it
    log = logging.getLogger("omi_bot.test.background")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        said = {"count": 1}
        with logs.bound(request_id="R1"):
            log.info("count %s", said)
        said["count"] = 2  # changed after the call, before the line is written
        assert stream.getvalue() == ""
        log.warning("and now")
        deadline = time.monotonic() + 30
        while stream.getvalue().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        first, then = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        log.removeHandler(handler)
        handler.close()
    assert (first["message"], first["request_id"]) == ("count {'count': 1}", "R1")
    assert then["message"] == "and now" and "request_id" not in then
    assert stream.writers == {handler._thread}


def test_a_process_that_ends_writes_every_line_it_logged(tmp_path: Path) -> None:
    code = (
        "import logging; from commands.logs import configure; configure(True); "
        "log = logging.getLogger('omi_bot.test'); "
        "[log.info('line %d', i) for i in range(2000)]"
    )
    env = {**os.environ, "OMI_LOG_FORMAT": "json", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = [json.loads(line)["message"] for line in done.stderr.splitlines()]
    assert written == [f"line {i}" for i in range(2000)]


def test_a_traceback_stays_on_its_line(captured) -> None:
    stream, _ = captured
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("omi_bot.test").exception("it broke")
    (line,) = lines(stream)
    assert line["message"] == "it broke"
    assert "RuntimeError: boom" in str(line["exc"]) and "Traceback" in str(line["exc"])


def test_the_context_follows_work_to_a_pool(captured) -> None:
    stream, _ = captured
    pool = logs.ContextPool(1)
    with logs.bound(request_id="R9", user_id="U9"):
        pool.submit(logging.getLogger("omi_bot.test").info, "after the answer").result()
    pool.shutdown()
    (line,) = lines(stream)
    assert (line["request_id"], line["user_id"]) == ("R9", "U9")


def _observed_bot(start_bot, listener_pause: float):  # type: ignore[no-untyped-def]
    """A bot with only bot/observe.py and one `/omi` listener that works `listener_pause`
    seconds before its answer, then logs after it on a pool of its own."""
    from slack_bolt import Ack, App

    from bot import observe

    after = logs.ContextPool(1)

    def register(app: App) -> None:
        observe.register(app)

        @app.command("/omi")
        def omi(ack: Ack) -> None:
            logging.getLogger("omi_bot.test").info("in the listener")
            time.sleep(listener_pause)
            ack()
            after.submit(logging.getLogger("omi_bot.test").info, "after the answer")

    _, client = start_bot(register)
    return client, after


def test_the_listener_and_the_work_after_its_answer_log_with_the_request(
    captured, start_bot
) -> None:
    stream, _ = captured
    client, after = _observed_bot(start_bot, 0)
    assert client.slash_command("help", user_id="U77", trigger_id="13345.7788.abc").ok
    after.shutdown(wait=True)
    ours = {
        str(line["message"]): line
        for line in lines(stream)
        if line["message"] in ("in the listener", "after the answer")
    }
    assert set(ours) == {"in the listener", "after the answer"}
    for line in ours.values():
        assert (line["request_id"], line["user_id"]) == ("13345.7788.abc", "U77")


def test_the_ack_is_timed_up_to_the_answer(captured, start_bot) -> None:
    from commands import metrics

    def total() -> float:
        (family,) = metrics.slack_ack_seconds.collect()
        return sum(
            sample.value
            for sample in family.samples
            if sample.name.endswith("_sum") and sample.labels == {"kind": "slash_command"}
        )

    client, after = _observed_bot(start_bot, 0.3)
    before = total()
    assert client.slash_command("help", user_id="U77").ok
    after.shutdown(wait=True)
    assert total() - before >= 0.3
    messages = [str(line["message"]) for line in lines(captured[0])]
    (answered,) = [m for m in messages if "answered" in m]
    assert float(answered.split(" in ")[1].split(" ms")[0]) >= 300


def test_ids_that_slack_would_never_send_stay_out_of_the_lines(captured, start_bot) -> None:
    stream, _ = captured
    client, after = _observed_bot(start_bot, 0)
    client.slash_command("help", user_id="U1\nforged line", trigger_id="x" * 500)
    after.shutdown(wait=True)
    (line,) = [line for line in lines(stream) if line["message"] == "in the listener"]
    assert "user_id" not in line and len(str(line["request_id"])) == 12


def test_text_lines_append_the_context() -> None:
    stream = io.StringIO()
    handler = logs.configure(verbose=True, environ={}, alongside=True)
    assert handler is not None
    handler.setStream(stream)
    try:
        with logs.bound(job_id=3):
            logging.getLogger("omi_bot.test").info("step done")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    (line,) = stream.getvalue().splitlines()
    assert line.endswith("INFO omi_bot.test: step done [job_id=3]")


def test_a_job_logs_with_its_job_and_version(captured, core: Core) -> None:
    stream, _ = captured
    with core.uow() as uow:
        job = Job("no-such-step", at=core.clock(), key="k", version_id="ver-00000000aa")
        uow.jobs.add(job)
        uow.commit()
        job_id = job.id
    assert Worker(core, deliverers=[]).run_one()
    (failed,) = [line for line in lines(stream) if "failed" in str(line["message"])]
    assert failed["job_id"] == str(job_id) and failed["version_id"] == "ver-00000000aa"


SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-secretbot",
    "SLACK_SIGNING_SECRET": "signing-secret-value-42",
    "SLACK_APP_TOKEN": "xapp-1-A1-secretapp",
    "OSC_ACCESS_KEY": "ACCESSKEYFROMENV01",
    "OSC_SECRET_KEY": "secret-key-from-env",
}


def test_secrets_are_redacted_from_messages_arguments_and_tracebacks(tmp_path: Path) -> None:
    config = tmp_path / "osc.json"
    config.write_text(json.dumps({"seller": {"access_key": "PROFILEAK", "secret_key": "psk-9876"}}))
    env = {
        **SECRETS,
        "OMI_SMTP_URL": "smtp://mailer:p%40ss-w0rd@127.0.0.1:25",
        "OMI_DATABASE_URL": "postgresql+psycopg://omi:db-pass-123@db/omi",
        "OSC_CONFIG_FILE": str(config),
        "OMI_LOG_FORMAT": "json",
    }
    secrets = logs.secrets_from(env)
    assert {*SECRETS.values(), "p@ss-w0rd", "p%40ss-w0rd", "db-pass-123", "PROFILEAK",
            "psk-9876"} <= secrets  # fmt: skip
    stream = io.StringIO()
    handler = logs.configure(verbose=True, environ=env, alongside=True)
    assert handler is not None
    handler.setStream(stream)
    log = logging.getLogger("omi_bot.test")
    try:
        for value in sorted(secrets):
            log.info("value %s in an argument", value)
            log.info(f"value {value} in the message")
        try:
            raise ValueError(f"connecting with {env['OMI_SMTP_URL']}")
        except ValueError:
            log.exception("it broke")
        log.warning("someone else's token xoxp-9999-8888-7777-abcdef")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    output = stream.getvalue()
    assert len(output.splitlines()) == 2 * len(secrets) + 2
    for value in secrets:
        assert value not in output
    assert "xoxp-9999" not in output
    assert output.count(logs.MASK) >= 2 * len(secrets) + 2


def test_apscheduler_skipped_runs_do_not_reach_the_log(captured) -> None:
    stream, _ = captured
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    scheduler_log.warning(
        'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
        "Worker.tick", 1,
    )  # fmt: skip
    logging.getLogger("apscheduler.executors.default").info('Running job "Worker.tick"')
    scheduler_log.error("a real problem")
    assert [line["message"] for line in lines(stream)] == ["a real problem"]


def test_a_long_tick_does_not_flood_the_log(captured, core: Core) -> None:
    """A worker whose tick outlasts its interval: APScheduler skips the runs, quietly."""
    stream, _ = captured
    import time

    said: list[logging.LogRecord] = []
    raw = logging.Handler(logging.WARNING)
    raw.emit = said.append  # type: ignore[method-assign]
    logging.getLogger("apscheduler").addHandler(raw)
    # Each tick outlasts the interval many times over.
    assert core.settings.worker_poll_seconds < 0.1
    worker = Worker(core, deliverers=[lambda: time.sleep(0.5) or 0])
    scheduler = worker.start_background()
    try:
        time.sleep(1.5)
    finally:
        worker.shutdown(scheduler, 5)
        logging.getLogger("apscheduler").removeHandler(raw)
    skipped = [r for r in said if "maximum number of running instances" in str(r.msg)]
    assert skipped, "APScheduler skipped no run: the test shows nothing"
    messages = [str(line["message"]) for line in lines(stream)]
    assert not [m for m in messages if "maximum number of running instances" in m]
    assert not [m for m in messages if m.startswith("Running job")]
