"""Mail delivery in real processes: one killed (SIGKILL) in the middle of a batch, then
`omi-bot mail send` taking over once the dead one's lease has run out; `omi-bot worker`
stopped (SIGTERM) in the middle of a batch, giving back what it had not sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from commands import services
from commands.bootstrap import Core
from commands.model import OutboxState, VersionForm
from tests.conftest import OMI_1
from tests.notifications.smtp_server import SmtpTestServer
from tests.processes import omi_env, start_omi

# Sends mail like the worker does, two outcomes committed at a time, and dies on the spot after
# the second recorded outcome: no cleanup, no SMTP QUIT, the database connection simply gone.
DYING_WORKER = """
import os, signal
from commands.bootstrap import bootstrap
from commands.notifications.outbox import send_due_mail

outcomes = []

def die(item, state):
    outcomes.append(item.id)
    if len(outcomes) == 2:
        os.kill(os.getpid(), signal.SIGKILL)

send_due_mail(bootstrap(), "doomed", record_every=2, after_each=die)
"""


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_a_killed_sender_is_taken_over_and_every_mail_arrives_once(
    core: Core,
    subscribers: list[str],
    drain: Callable[..., None],
    smtp_server: SmtpTestServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    form = VersionForm(omi=OMI_1, release_note="note", software_version="1.24")
    services.publish(core, "0001", form, requested_by="U1")
    drain()
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "OMI_DATABASE_URL": database_url,
        "OMI_SMTP_URL": smtp_server.url,
        "OMI_JOB_LEASE_SECONDS": "1",
        "OMI_DEBUG": "",
    }

    dead = run(["-c", DYING_WORKER], env, tmp_path)
    assert dead.returncode == -signal.SIGKILL, dead.stderr
    assert len(smtp_server.messages) == 2
    with core.uow() as uow:
        states = Counter(i.state for i in uow.outbox.list(channel="email"))
    assert states == {OutboxState.SENT: 2, OutboxState.SENDING: 2}

    time.sleep(1.2)  # the dead worker's lease runs out
    taken = run(["-c", "from cli.main import main; main()", "mail", "send"], env, tmp_path)
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.strip() == "2 sent, 0 to retry later, 0 failed."
    received = Counter(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert len(received) == 4 and set(received.values()) == {1}


def test_sigterm_mid_batch_sends_the_mail_under_way_and_gives_back_the_rest(
    core: Core,
    subscribers: list[str],
    drain: Callable[..., None],
    smtp_server: SmtpTestServer,
    database_url: str,
    osc_config: Path,
    tmp_path: Path,
) -> None:
    form = VersionForm(omi=OMI_1, release_note="note", software_version="1.24")
    services.publish(core, "0001", form, requested_by="U1")
    drain()
    smtp_server.hold_after(2)  # the third mail is under way when the signal comes
    env = omi_env(database_url, osc_config, tmp_path, OMI_SMTP_URL=smtp_server.url)
    worker = start_omi(["worker"], env, tmp_path, name="worker")
    try:
        assert smtp_server.wait_holding(60), worker.output
        worker.popen.send_signal(signal.SIGTERM)
        worker.wait_log("stopping")
    finally:
        smtp_server.release()
    assert worker.wait() == 0, worker.output
    with core.uow() as uow:
        items = uow.outbox.list(channel="email")
    assert Counter(i.state for i in items) == {OutboxState.SENT: 3, OutboxState.PENDING: 1}
    (rest,) = [i for i in items if i.state is OutboxState.PENDING]
    assert rest.attempts == 0 and "stopping" in (rest.last_error or "")  # not counted

    time.sleep(0.1)  # OMI_RETRY_BASE_SECONDS: the given-back mail is due again
    taken = run(["-c", "from cli.main import main; main()", "mail", "send"], env, tmp_path)
    assert taken.stdout.strip() == "1 sent, 0 to retry later, 0 failed.", taken.stderr
    received = Counter(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert len(received) == 4 and set(received.values()) == {1}


def test_a_sender_killed_before_recording_resends_only_what_it_had_not_recorded(
    core: Core,
    subscribers: list[str],
    drain: Callable[..., None],
    smtp_server: SmtpTestServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    """Outcomes are committed a group at a time: a sender killed with a group unrecorded
    leaves those mails to be sent again by the next one, with the same Message-ID, and no
    other mail twice."""
    form = VersionForm(omi=OMI_1, release_note="note", software_version="1.24")
    services.publish(core, "0001", form, requested_by="U1")
    drain()
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "OMI_DATABASE_URL": database_url,
        "OMI_SMTP_URL": smtp_server.url,
        "OMI_JOB_LEASE_SECONDS": "1",
        "OMI_DEBUG": "",
    }
    sender = subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", "mail", "send"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Killed while the server takes the third mail, before the sender hears it was queued.
    smtp_server.when_accepted(lambda n: os.kill(sender.pid, signal.SIGKILL) if n == 3 else None)
    assert sender.wait(60) == -signal.SIGKILL
    smtp_server.when_accepted(None)
    with core.uow() as uow:
        recorded = {i.recipient for i in uow.outbox.list(channel="email", state=OutboxState.SENT)}
        states = Counter(i.state for i in uow.outbox.list(channel="email"))
    assert states[OutboxState.SENT] + states[OutboxState.SENDING] == 4
    first = {m.rcpt_tos[0]: m.message["Message-ID"] for m in smtp_server.messages}
    assert len(first) == 3

    time.sleep(1.2)  # the dead sender's lease runs out
    taken = run(["-c", "from cli.main import main; main()", "mail", "send"], env, tmp_path)
    assert taken.returncode == 0, taken.stderr
    received = Counter(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert len(received) == 4
    for recipient, times in received.items():
        # Once if its outcome was recorded before the kill, else at most once more.
        assert times == 1 if recipient in recorded else times <= 2
    for m in smtp_server.messages[3:]:
        recipient = m.rcpt_tos[0]
        assert recipient not in recorded
        assert m.message["Message-ID"] == first.get(recipient, m.message["Message-ID"])
