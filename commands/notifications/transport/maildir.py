"""Mail stored in a Maildir folder when no SMTP server is configured: nothing is lost, any mail
client can read it, and storing the same mail again (a retry after a crash) does not make a
second copy."""

from __future__ import annotations

import hashlib
import logging
import mailbox
import os
import uuid
from email.message import EmailMessage, Message
from pathlib import Path

from commands.notifications.transport.delivery import Delivery, DeliveryStatus
from commands.notifications.transport.envelope import Envelope

# Every transport logs under the package's name, so one logger setting covers mail delivery
# whichever way it goes.
log = logging.getLogger(__package__)


class MaildirTransport:
    """Stores each mail in a Maildir folder (`new/`), where any mail client can read it.

    A mail with a Message-ID is stored under a name derived from it, so sending the same mail
    again (a retry after a crash) does not create a second copy.
    """

    def __init__(self, path: str | Path = "mail") -> None:
        self.path = Path(path)
        self._box: mailbox.Maildir | None = None
        self._read: set[str] | None = None

    def __repr__(self) -> str:
        return f"MaildirTransport({str(self.path)!r})"

    def __enter__(self) -> MaildirTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self._box = None
        self._read = None

    def _mailbox(self) -> mailbox.Maildir:
        if self._box is None:
            self._box = mailbox.Maildir(self.path, factory=None, create=True)
        return self._box

    def send(self, message: EmailMessage | Envelope) -> Delivery:
        try:
            box = self._mailbox()
            if isinstance(message, Envelope):
                data = message.data.replace(b"\r\n", b"\n")
                message_id = message.message_id.strip()
            else:
                data = _maildir_bytes(message)
                message_id = str(message.get("Message-ID", "")).strip()
            if not message_id:
                key = box.add(data)
                return Delivery(DeliveryStatus.SENT, f"stored in {self.path} as {key}")
            key = "omi-bot." + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:40]
            if self._stored(key):
                return Delivery(
                    DeliveryStatus.SENT, f"already stored in {self.path} as {key} (same Message-ID)"
                )
            self._deliver(key, data)
            return Delivery(DeliveryStatus.SENT, f"stored in {self.path} as {key}")
        except OSError as exc:
            # A full disk or a permission problem may be fixed by an operator: keep the mail.
            log.warning("cannot store mail in %s: %s", self.path, exc)
            return Delivery(DeliveryStatus.RETRY, f"cannot store mail in {self.path}: {exc}")

    def _stored(self, key: str) -> bool:
        # Not `key in mailbox.Maildir`: for a key it does not know, that lists new/ and cur/
        # again, so storing n mails read the folder n times. A mail stored by us is in new/
        # until a mail client reads it and moves it to cur/ as KEY:2,FLAGS; cur/ is listed
        # once per sending session, which is enough: a mail is sent again only by a later
        # session (a retry after a crash), never twice in one.
        if (self.path / "new" / key).exists():
            return True
        if self._read is None:
            self._read = {name.split(":", 1)[0] for name in os.listdir(self.path / "cur")}
        return key in self._read

    def _deliver(self, key: str, data: bytes) -> None:
        # The Maildir protocol: write under tmp/, then link into new/ so readers never see a
        # partial file. A link that already exists means another worker delivered it first.
        tmp = self.path / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex}"
        target = self.path / "new" / key
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                pass
            except (AttributeError, PermissionError, NotImplementedError):
                # Some file systems have no hard links; same fallback as mailbox.Maildir.add.
                if not target.exists():
                    os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def _maildir_bytes(message: Message) -> bytes:
    # Maildir files use the local line ending, not the SMTP CRLF.
    return message.as_bytes(policy=message.policy.clone(linesep="\n"))
