"""Delivery through a real local SMTP server (aiosmtpd) and into a Maildir folder."""

from __future__ import annotations

import logging
import mailbox
import os
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest

from commands.notifications.mail import (
    Event,
    MailFacts,
    VersionFacts,
    build_message,
    make_message_id,
    render,
)
from commands.notifications.transport import (
    Delivery,
    DeliveryStatus,
    MaildirTransport,
    SmtpTransport,
    backoff,
    parse_smtp_url,
    transport_from_url,
)
from tests.notifications.smtp_server import SmtpTestServer, free_port, server_tls_context

SENDER = "omi-bot@marketplace.example"
VERSION = VersionFacts(
    "ver-1", "2.4.0", "ami-4c0ffee1", "Fixes.", "Ubuntu 24.04", datetime(2026, 11, 22, tzinfo=UTC)
)
FACTS = MailFacts(Event.VERSION_PUBLISHED, "pc-acme-7731", "Acme Vault", (VERSION,), VERSION)


def mail_to(to: str, key: str | None = None, language: str = "en") -> EmailMessage:
    return build_message(
        render(FACTS, language),
        to=to,
        mail_from=f"omi-bot <{SENDER}>",
        message_id=make_message_id(key or f"publish:ver-1:{to}", "marketplace.example"),
        date=datetime(2026, 11, 22, 9, 31, tzinfo=UTC),
    )


def statuses(deliveries: list[Delivery]) -> list[DeliveryStatus]:
    return [d.status for d in deliveries]


# -- Maildir -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, "", "  "])
def test_no_smtp_url_means_a_maildir(tmp_path: Path, url: str | None) -> None:
    transport = transport_from_url(url, maildir=tmp_path / "mail")
    assert isinstance(transport, MaildirTransport)
    assert transport.path == tmp_path / "mail"


def test_maildir_mails_land_in_new_and_are_readable(tmp_path: Path) -> None:
    with transport_from_url(None, maildir=tmp_path / "mail") as transport:
        results = [transport.send(mail_to(f"user{i}@example.com")) for i in range(3)]

    assert statuses(results) == [DeliveryStatus.SENT] * 3
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 3
    assert not list((tmp_path / "mail" / "tmp").iterdir())  # no half-written leftovers
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    received = sorted(str(m["To"]) for m in box)
    assert received == [f"user{i}@example.com" for i in range(3)]
    one = next(iter(box))
    assert one["Subject"] == "Acme Vault (pc-acme-7731): version 2.4.0 published"
    assert one.is_multipart()
    assert b"\r\n" not in (tmp_path / "mail" / "new" / box.keys()[0]).read_bytes()


def test_maildir_stores_a_resent_mail_once(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "mail")
    first = transport.send(mail_to("alice@example.com", key="outbox:7"))
    again = transport.send(mail_to("alice@example.com", key="outbox:7"))
    other = transport.send(mail_to("alice@example.com", key="outbox:8"))

    assert statuses([first, again, other]) == [DeliveryStatus.SENT] * 3
    assert "already stored" in again.detail
    assert len(mailbox.Maildir(tmp_path / "mail", create=False)) == 2


def test_maildir_does_not_store_again_a_mail_a_reader_moved_to_cur(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    MaildirTransport(folder).send(mail_to("alice@example.com", key="outbox:7"))
    (stored,) = (folder / "new").iterdir()
    stored.rename(folder / "cur" / f"{stored.name}:2,S")  # what a mail client does on reading

    with MaildirTransport(folder) as later:  # a retry after a crash: a new sending session
        again = later.send(mail_to("alice@example.com", key="outbox:7"))

    assert again.status is DeliveryStatus.SENT
    assert "already stored" in again.detail
    assert list((folder / "new").iterdir()) == []
    assert len(mailbox.Maildir(folder, create=False)) == 1


def test_maildir_reads_the_folder_once_per_session_not_once_per_mail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed: list[str] = []
    real = os.listdir

    def listdir(path: str | os.PathLike[str] = ".") -> list[str]:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    with MaildirTransport(tmp_path / "mail") as transport:
        sent = [transport.send(mail_to("alice@example.com", key=f"outbox:{i}")) for i in range(30)]

    assert statuses(sent) == [DeliveryStatus.SENT] * 30
    assert listed == [str(tmp_path / "mail" / "cur")]


def test_maildir_that_cannot_be_written_asks_for_a_retry(tmp_path: Path) -> None:
    blocker = tmp_path / "mail"
    blocker.write_text("a file where the folder should be")

    delivery = MaildirTransport(blocker).send(mail_to("alice@example.com"))

    assert delivery.status is DeliveryStatus.RETRY
    assert str(blocker) in delivery.detail


# -- SMTP: the happy path ----------------------------------------------------------------------


def test_many_mails_share_one_smtp_connection(smtp_server: SmtpTestServer) -> None:
    recipients = [f"user{i}@example.com" for i in range(5)]
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        results = [transport.send(mail_to(r)) for r in recipients]

    assert statuses(results) == [DeliveryStatus.SENT] * 5
    assert all(d.detail.startswith("250 ") for d in results)
    assert smtp_server.connections == 1
    received = smtp_server.messages
    assert [m.rcpt_tos for m in received] == [(r,) for r in recipients]
    assert {m.mail_from for m in received} == {SENDER}
    assert received[0].message["Message-ID"] == mail_to(recipients[0])["Message-ID"]
    assert received[0].message["Subject"] == "Acme Vault (pc-acme-7731): version 2.4.0 published"


def test_french_mail_arrives_intact(smtp_server: SmtpTestServer) -> None:
    sent = mail_to("zoe@example.fr", language="fr")
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        assert transport.send(sent).status is DeliveryStatus.SENT

    received = smtp_server.messages[0].message
    assert received["Subject"] == "Acme Vault (pc-acme-7731) : version 2.4.0 publiée"
    assert received["Content-Language"] == "fr"
    text = received.get_body(preferencelist=("plain",))
    assert text is not None
    assert "Nous vous recommandons de mettre à niveau" in text.get_content()


def test_bcc_goes_to_the_envelope_not_the_headers(smtp_server: SmtpTestServer) -> None:
    message = mail_to("alice@example.com")
    message["Bcc"] = "audit@example.com"
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        assert transport.send(message).status is DeliveryStatus.SENT

    received = smtp_server.messages[0]
    assert received.rcpt_tos == ("alice@example.com", "audit@example.com")
    assert received.message["Bcc"] is None


# -- SMTP: refusals and failures ---------------------------------------------------------------


def test_temporary_failure_is_retry_with_the_server_answer(smtp_server: SmtpTestServer) -> None:
    smtp_server.fail_temporarily(1, code=451)
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        first = transport.send(mail_to("alice@example.com"))
        second = transport.send(mail_to("bob@example.com"))

    assert first == Delivery(DeliveryStatus.RETRY, "451 4.3.0 Temporary failure, try again later")
    assert second.status is DeliveryStatus.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [("bob@example.com",)]
    assert smtp_server.connections == 1


def test_recipient_refused_for_good_fails_and_the_next_mail_still_goes(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.refuse_recipient("nobody@example.com", code=550)
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        refused = transport.send(mail_to("nobody@example.com"))
        accepted = transport.send(mail_to("alice@example.com"))

    assert refused.status is DeliveryStatus.FAILED
    assert refused.detail.startswith("550 5.1.1")
    assert "nobody@example.com" in refused.detail
    assert accepted.status is DeliveryStatus.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [("alice@example.com",)]
    assert smtp_server.connections == 1


def test_message_refused_for_good_after_data_fails(smtp_server: SmtpTestServer) -> None:
    smtp_server.fail_permanently(1, code=554)
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        rejected = transport.send(mail_to("alice@example.com"))
        accepted = transport.send(mail_to("bob@example.com"))

    assert rejected == Delivery(DeliveryStatus.FAILED, "554 5.6.0 Message rejected")
    assert accepted.status is DeliveryStatus.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [("bob@example.com",)]
    assert smtp_server.rejected == 1
    assert smtp_server.connections == 1


def test_recipient_refused_for_now_is_retry(smtp_server: SmtpTestServer) -> None:
    smtp_server.refuse_recipient("busy@example.com", code=450)
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        delivery = transport.send(mail_to("busy@example.com"))

    assert delivery.status is DeliveryStatus.RETRY
    assert delivery.detail.startswith("450 ")
    assert smtp_server.messages == []


def test_partly_refused_recipients_do_not_block_the_others(smtp_server: SmtpTestServer) -> None:
    smtp_server.refuse_recipient("nobody@example.com")
    message = mail_to("alice@example.com")
    message["Cc"] = "nobody@example.com"
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        delivery = transport.send(message)

    # Resending would duplicate Alice's copy, so this counts as sent, with the refusal noted.
    assert delivery.status is DeliveryStatus.SENT
    assert "refused: 550" in delivery.detail
    assert smtp_server.messages[0].rcpt_tos == ("alice@example.com",)


@pytest.mark.parametrize("announce", [False, True], ids=["silent", "421"])
def test_connection_closed_between_mails_is_reopened_once(
    smtp_server: SmtpTestServer, announce: bool
) -> None:
    smtp_server.drop_connection_after(1, announce=announce)
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        results = [transport.send(mail_to(f"user{i}@example.com")) for i in range(3)]

    assert statuses(results) == [DeliveryStatus.SENT] * 3
    assert smtp_server.connections == 2
    # Each mail exactly once: the reconnection resent nothing that had been accepted.
    assert [m.rcpt_tos for m in smtp_server.messages] == [
        (f"user{i}@example.com",) for i in range(3)
    ]


def test_connection_lost_during_data_is_retry_without_immediate_resend(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.drop_during_data(1)
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        lost = transport.send(mail_to("alice@example.com"))
        after = transport.send(mail_to("bob@example.com"))

    assert lost.status is DeliveryStatus.RETRY
    assert "during DATA" in lost.detail
    assert smtp_server.connections == 2  # a new one for Bob, none to resend Alice's mail
    assert after.status is DeliveryStatus.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [("bob@example.com",)]


def test_server_down_is_retry_and_not_tried_again_in_the_same_session() -> None:
    port = free_port()  # nothing listens there
    transport = transport_from_url(f"smtp://127.0.0.1:{port}", timeout=5)
    with transport:
        first = transport.send(mail_to("alice@example.com"))
        second = transport.send(mail_to("bob@example.com"))
    with transport:  # a new session tries again
        third = transport.send(mail_to("bob@example.com"))

    assert first.status is DeliveryStatus.RETRY
    assert "refused" in first.detail.lower()
    assert second.status is DeliveryStatus.RETRY
    assert second.detail.startswith("not attempted: ")
    assert third.status is DeliveryStatus.RETRY
    assert not third.detail.startswith("not attempted")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections but never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


def test_server_that_never_answers_times_out_as_retry(silent_server: int) -> None:
    with transport_from_url(f"smtp://127.0.0.1:{silent_server}", timeout=0.3) as transport:
        delivery = transport.send(mail_to("alice@example.com"))

    assert delivery.status is DeliveryStatus.RETRY
    assert "timed out" in delivery.detail


def test_a_message_without_recipient_fails_without_raising(smtp_server: SmtpTestServer) -> None:
    message = mail_to("alice@example.com")
    del message["To"]
    with transport_from_url(smtp_server.url, timeout=5) as transport:
        delivery = transport.send(message)

    assert delivery == Delivery(
        DeliveryStatus.FAILED, "invalid message: the message has no recipient"
    )
    assert smtp_server.connections == 0


# -- SMTP: login and TLS -----------------------------------------------------------------------

PASSWORD = "s3cr:t/p@ss%word"


def test_login_works_and_the_password_never_leaks(
    smtp_server: SmtpTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.require_auth("mailer", PASSWORD)
    base = f"smtp://mailer:{quote(PASSWORD, safe='')}@127.0.0.1:{smtp_server.port}"
    caplog.set_level(logging.DEBUG)

    with transport_from_url(base, timeout=5) as transport:
        good = transport.send(mail_to("alice@example.com"))
    with transport_from_url(base.replace("mailer:", "mailer:wrong"), timeout=5) as bad_login:
        bad = bad_login.send(mail_to("bob@example.com"))
    with transport_from_url(smtp_server.url, timeout=5) as anonymous:
        no_login = anonymous.send(mail_to("carol@example.com"))

    assert good.status is DeliveryStatus.SENT
    assert smtp_server.messages[0].authenticated_as == "mailer"
    assert bad.status is DeliveryStatus.RETRY  # fixable configuration: keep the mail
    assert "535" in bad.detail
    assert no_login.status is DeliveryStatus.RETRY
    assert no_login.detail.startswith("sender refused: 530")
    assert len(smtp_server.messages) == 1
    for text in (good.detail, bad.detail, no_login.detail, repr(transport), caplog.text):
        assert PASSWORD not in text
        assert quote(PASSWORD, safe="") not in text
    assert "mailer" in repr(transport)


def test_a_server_answer_echoing_the_password_is_redacted(smtp_server: SmtpTestServer) -> None:
    # The server quotes the refused address; here the address happens to contain the password.
    smtp_server.require_auth("mailer", "hunter2hunter2")
    smtp_server.refuse_recipient("hunter2hunter2@example.com")
    with transport_from_url(
        f"smtp://mailer:hunter2hunter2@127.0.0.1:{smtp_server.port}", timeout=5
    ) as transport:
        delivery = transport.send(mail_to("hunter2hunter2@example.com"))

    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.detail == "550 5.1.1 <***@example.com>: no such user"


def test_starttls_is_refused_when_the_server_does_not_offer_it(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.require_auth("mailer", PASSWORD)
    url = f"smtp://mailer:pw@127.0.0.1:{smtp_server.port}?starttls=1"
    with transport_from_url(url, timeout=5) as transport:
        delivery = transport.send(mail_to("alice@example.com"))

    assert delivery.status is DeliveryStatus.RETRY
    assert "does not offer STARTTLS" in delivery.detail
    assert smtp_server.auth_attempts == []  # the credentials never went out in clear
    assert smtp_server.messages == []


def test_starttls_with_login(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with SmtpTestServer(tls_context=server_tls_context(cert, key)) as server:
        server.require_auth("mailer", PASSWORD)
        url = (
            f"smtp+starttls://mailer:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}"
            f"?cafile={cert}"
        )
        with transport_from_url(url, timeout=5) as transport:
            results = [transport.send(mail_to(f"user{i}@example.com")) for i in range(2)]

        assert statuses(results) == [DeliveryStatus.SENT] * 2
        assert all(m.tls and m.authenticated_as == "mailer" for m in server.messages)
        assert server.connections == 1


def test_implicit_tls(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with SmtpTestServer(tls_context=server_tls_context(cert, key), implicit_tls=True) as server:
        with transport_from_url(f"{server.url}?cafile={cert}", timeout=5) as transport:
            delivery = transport.send(mail_to("alice@example.com"))

        assert delivery.status is DeliveryStatus.SENT
        assert server.messages[0].tls


def test_untrusted_certificate_is_retry(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with SmtpTestServer(tls_context=server_tls_context(cert, key), implicit_tls=True) as server:
        # The system trust store does not know the test certificate.
        with transport_from_url(server.url, timeout=5) as transport:
            delivery = transport.send(mail_to("alice@example.com"))

        assert delivery.status is DeliveryStatus.RETRY
        assert "CERTIFICATE_VERIFY_FAILED" in delivery.detail
        assert server.messages == []


def test_an_explicit_ssl_context_is_used(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(cafile=str(cert))
    with SmtpTestServer(tls_context=server_tls_context(cert, key)) as server:
        url = f"smtp://127.0.0.1:{server.port}?starttls=1"
        with transport_from_url(url, timeout=5, ssl_context=context) as transport:
            assert transport.send(mail_to("alice@example.com")).status is DeliveryStatus.SENT
        assert server.messages[0].tls


# -- URL parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://mail.example.com", "plain", 25),
        ("smtp://mail.example.com:2525", "plain", 2525),
        ("smtp://mail.example.com?starttls=1", "starttls", 25),
        ("smtp://mail.example.com?starttls=0", "plain", 25),
        ("smtp+starttls://mail.example.com", "starttls", 587),
        ("smtps://mail.example.com", "tls", 465),
        ("SMTPS://MAIL.example.com:1465/", "tls", 1465),
    ],
)
def test_smtp_url_schemes_and_default_ports(url: str, security: str, port: int) -> None:
    settings = parse_smtp_url(url)
    assert (settings.host, settings.security, settings.port) == ("mail.example.com", security, port)
    assert settings.username is None and settings.password is None


def test_smtp_url_credentials_are_percent_decoded_and_hidden() -> None:
    url = f"smtp://{quote('ops@acme', safe='')}:{quote(PASSWORD, safe='')}@mail.example.com"
    settings = parse_smtp_url(url, timeout=7)
    transport = transport_from_url(url)

    assert settings.username == "ops@acme"
    assert settings.password == PASSWORD
    assert settings.timeout == 7
    assert isinstance(transport, SmtpTransport)
    for text in (repr(settings), repr(transport), settings.display_url()):
        assert PASSWORD not in text and quote(PASSWORD, safe="") not in text
    assert settings.display_url() == "smtp://ops@acme@mail.example.com:25"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.com", "scheme"),
        ("smtp://:pw@mail.example.com", "no user"),
        ("smtp://user:hunter2@mail.example.com:99999", "port"),
        ("smtp://user:hunter2@mail.example.com:abc", "port"),
        ("smtp://", "no host"),
        ("smtp://mail.example.com/inbox", "path"),
        ("smtp://mail.example.com?tls=1", "unknown"),
        ("smtp://mail.example.com?starttls=maybe", "starttls"),
        ("smtps://mail.example.com?starttls=1", "already encrypted"),
        ("smtps://mail.example.com?cafile=/nonexistent/ca.pem", "CA file"),
    ],
)
def test_bad_smtp_urls_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        transport_from_url(url)
    assert "hunter2" not in str(error.value)


# -- backoff -----------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    for attempt in range(1, 12):
        ceiling = min(3600.0, 30.0 * 2 ** (attempt - 1))
        delays = {backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(delays) > 1  # jittered, so a failed batch does not come back in step
    assert backoff(0) <= 30.0  # "no attempt yet" behaves like the first retry
    assert 1800.0 <= backoff(10_000) <= 3600.0
    assert 5.0 <= backoff(3, base=10.0, cap=10.0) <= 10.0
    with pytest.raises(ValueError):
        backoff(1, base=0)
