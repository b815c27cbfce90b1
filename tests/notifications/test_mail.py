"""Rendering of the notices (R4, R8, R9, R10) and the safety of the built MIME message."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime

import pytest

from commands.notifications.mail import (
    SUBJECT_MAX_LENGTH,
    TEMPLATES_DIR,
    Event,
    MailFacts,
    RenderedMail,
    VersionFacts,
    build_message,
    format_date,
    make_message_id,
    render,
)

NEW = VersionFacts(
    version_id="ver-20261122-b",
    software_version="2.4.0",
    omi_copy_id="ami-4c0ffee1",
    release_note="Security fixes.\nFaster boot.",
    operating_system="Ubuntu 24.04",
    date=datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
)
OLD = VersionFacts(
    version_id="ver-20260901-a",
    software_version="2.3.1",
    omi_copy_id="ami-0a1b2c3d",
    release_note="First release.",
    operating_system="Ubuntu 22.04",
    date=datetime(2026, 9, 1, 8, 0, tzinfo=UTC),
)
PRODUCT = {"product_code": "pc-acme-7731", "product_name": "Acme Vault"}


def published(**kwargs: object) -> MailFacts:
    facts: dict[str, object] = {
        "event": Event.VERSION_PUBLISHED,
        **PRODUCT,
        "versions": (NEW,),
        "last_available": NEW,
        "instructions": "Log in as admin on port 8443.",
    }
    facts.update(kwargs)
    return MailFacts(**facts)  # type: ignore[arg-type]


def version_unpublished(last: VersionFacts | None = OLD) -> MailFacts:
    return MailFacts(Event.VERSION_UNPUBLISHED, versions=(NEW,), last_available=last, **PRODUCT)


def product_unpublished() -> MailFacts:
    return MailFacts(Event.PRODUCT_UNPUBLISHED, versions=(NEW, OLD), last_available=None, **PRODUCT)


def scheduled(event: Event, **kwargs: object) -> MailFacts:
    """A scheduled unpublication of NEW on its date (22 November), replaced by OLD."""
    return MailFacts(event, versions=(NEW,), last_available=OLD, **PRODUCT, **kwargs)  # type: ignore[arg-type]


ALL_FACTS = {
    Event.VERSION_PUBLISHED: published(),
    Event.VERSION_UNPUBLISHED: version_unpublished(),
    Event.PRODUCT_UNPUBLISHED: product_unpublished(),
    Event.UNPUBLICATION_SCHEDULED: scheduled(Event.UNPUBLICATION_SCHEDULED),
    Event.UNPUBLICATION_REMINDER: scheduled(Event.UNPUBLICATION_REMINDER, days_left=7),
    Event.UNPUBLICATION_CANCELLED: scheduled(Event.UNPUBLICATION_CANCELLED),
}


def build(mail: RenderedMail, **kwargs: object) -> EmailMessage:
    args: dict[str, object] = {
        "to": "Alice Martin <alice@example.com>",
        "mail_from": "omi-bot <omi-bot@marketplace.example>",
        "message_id": make_message_id("outbox:1", "marketplace.example"),
        "date": datetime(2026, 11, 22, 9, 31, tzinfo=UTC),
    }
    args.update(kwargs)
    return build_message(mail, **args)  # type: ignore[arg-type]


def reparse(message: EmailMessage) -> EmailMessage:
    """What a receiving mail system sees."""
    parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    # On the wire lines end with CRLF; readers show them as plain line ends.
    return str(part.get_content()).replace("\r\n", "\n")


# -- every event in every language -------------------------------------------------------------


def test_every_event_has_a_template_per_language_and_part() -> None:
    expected = {
        f"{lang}/{event.value}.{part}.j2"
        for lang in ("en", "fr")
        for event in Event
        for part in ("subject", "txt", "html")
    }
    present = {
        str(p.relative_to(TEMPLATES_DIR))
        for p in TEMPLATES_DIR.rglob("*.j2")
        if not p.name.startswith("_")
    }
    assert expected == present


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("event", list(Event))
def test_key_facts_are_in_subject_text_and_html(event: Event, language: str) -> None:
    mail = render(ALL_FACTS[event], language)

    assert mail.language == language
    assert "Acme Vault" in mail.subject and "pc-acme-7731" in mail.subject
    for part in (mail.text, mail.html):
        assert "Acme Vault" in part
        assert "pc-acme-7731" in part
        assert "2.4.0" in part
        assert "ver-20261122-b" in part
        assert "omi-bot" in part  # the signature line
    assert f'<html lang="{language}">' in mail.html
    expected_date = "22 November 2026" if language == "en" else "22 novembre 2026"
    assert expected_date in mail.text and expected_date in mail.html


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "en",
            ["A new version", "Release note:", "We advise you to upgrade", "OMI copy ID:",
             "launch virtual machines", "Instructions for use:"],
        ),
        (
            "fr",
            ["Une nouvelle version", "Note de release :", "mettre à niveau",
             "ID de la copie de l'OMI :", "lancer des machines virtuelles",
             "Instructions d'utilisation :", "souscripteur", "administrateur de l'organisation"],
        ),
    ],
)  # fmt: skip
def test_publication_mail_advises_to_upgrade(language: str, phrases: list[str]) -> None:
    mail = render(published(), language)

    for phrase in phrases:
        assert phrase in mail.text, phrase
    assert "Security fixes.\nFaster boot." in mail.text
    assert "Security fixes.<br>\nFaster boot." in mail.html
    assert "ami-4c0ffee1" in mail.text and "ami-4c0ffee1" in mail.html
    assert "Log in as admin on port 8443." in mail.text


def test_publication_mail_leaves_out_empty_optional_fields() -> None:
    bare = VersionFacts("ver-x", "3.0", None, "Notes.", "", NEW.date)
    mail = render(published(versions=(bare,), last_available=bare, instructions="  "), "en")

    assert "OMI copy ID" not in mail.text
    assert "Operating system" not in mail.text
    assert "Instructions for use" not in mail.text and "Instructions for use" not in mail.html


@pytest.mark.parametrize(
    ("language", "deleted", "running", "last"),
    [
        ("en", "deleted from the OUTSCALE Cloud", "VMs already launched from it keep running",
         "The last available version of Acme Vault is now 2.3.1 (version ID ver-20260901-a, "
         "1 September 2026)"),
        ("fr", "supprimée du Cloud OUTSCALE", "continuent de fonctionner",
         "La dernière version disponible du produit Acme Vault est désormais la version 2.3.1 "
         "(ID de la version : ver-20260901-a, 1er septembre 2026)"),
    ],
)  # fmt: skip
def test_version_unpublished_mail_explains_the_copy_is_gone_but_vms_run(
    language: str, deleted: str, running: str, last: str
) -> None:
    mail = render(version_unpublished(), language)

    assert deleted in mail.text and deleted in mail.html
    assert running in mail.text and running in mail.html
    assert last in mail.text
    assert "ami-4c0ffee1" in mail.text  # which copy was deleted


@pytest.mark.parametrize(
    ("language", "nothing_left"),
    [("en", "No version of Acme Vault remains available."),
     ("fr", "Plus aucune version du produit Acme Vault n'est disponible.")],
)  # fmt: skip
def test_unpublish_mail_says_when_no_version_remains(language: str, nothing_left: str) -> None:
    for facts in (version_unpublished(last=None), product_unpublished()):
        mail = render(facts, language)
        assert nothing_left in mail.text
        assert nothing_left in mail.html


@pytest.mark.parametrize(
    ("language", "running"), [("en", "keep running"), ("fr", "continuent de fonctionner")]
)
def test_product_unpublished_mail_lists_every_version(language: str, running: str) -> None:
    mail = render(product_unpublished(), language)

    for version in (NEW, OLD):
        for part in (mail.text, mail.html):
            assert version.software_version in part
            assert version.version_id in part
            assert str(version.omi_copy_id) in part
    assert mail.text.count("\n  - ") == 2
    assert mail.html.count("<li>") == 2
    assert running in mail.text and running in mail.html
    # The product went when its last version did: the latest date is the event's date.
    assert ("22 November 2026" if language == "en" else "22 novembre 2026") in mail.text


@pytest.mark.parametrize("event", list(Event))
def test_french_mails_have_no_english_left(event: Event) -> None:
    mail = render(ALL_FACTS[event], "fr")
    english = re.compile(
        r"\b(Hello|Software version|Version ID|Release note|keep running|deleted|"
        r"advise|available|on behalf)\b"
    )
    assert not english.search(mail.text), english.search(mail.text)
    assert not english.search(mail.html), english.search(mail.html)
    assert mail.text.startswith("Bonjour,")


@pytest.mark.parametrize(
    ("asked", "used"), [("fr", "fr"), ("FR", "fr"), ("fr-CA", "fr"), ("de", "en"), ("", "en")]
)
def test_unknown_languages_fall_back_to_english(asked: str, used: str) -> None:
    mail = render(published(), asked)
    assert mail.language == used
    assert mail.text.startswith("Bonjour," if used == "fr" else "Hello,")


def test_dates_are_written_per_language_in_utc() -> None:
    assert format_date(datetime(2026, 11, 22, tzinfo=UTC), "en") == "22 November 2026"
    assert format_date(datetime(2026, 11, 22, tzinfo=UTC), "fr") == "22 novembre 2026"
    assert format_date(datetime(2026, 2, 1, tzinfo=UTC), "fr") == "1er février 2026"
    assert format_date(datetime(2026, 8, 1, tzinfo=UTC), "en") == "1 August 2026"
    # 23:30 in New York on 21 November is already 22 November in UTC.
    new_york = timezone(timedelta(hours=-5))
    assert format_date(datetime(2026, 11, 21, 23, 30, tzinfo=new_york), "en") == "22 November 2026"
    # Naive values (as SQLite returns them) are UTC.
    assert format_date(datetime(2026, 12, 31, 23, 59), "fr") == "31 décembre 2026"


def test_render_needs_at_least_one_version() -> None:
    with pytest.raises(ValueError, match="at least one version"):
        render(
            MailFacts(Event.PRODUCT_UNPUBLISHED, versions=(), last_available=None, **PRODUCT), "en"
        )


# -- escaping and injection --------------------------------------------------------------------


def test_html_part_escapes_seller_input_and_text_part_keeps_it_verbatim() -> None:
    evil = VersionFacts(
        "ver-1", "1.0 <b>", None, "<script>alert('x')</script> & more", "Linux", NEW.date
    )
    mail = render(
        published(product_name="Acme <img src=x onerror=alert(1)>", versions=(evil,)), "en"
    )

    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in mail.html
    assert "<img" not in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    assert "1.0 &lt;b&gt;" in mail.html
    assert "<script>alert('x')</script> & more" in mail.text


def test_subject_is_one_bounded_line() -> None:
    mail = render(published(product_name="Acme\r\nBcc: x@evil\u2028" + "V" * 400), "en")

    assert "\n" not in mail.subject and "\r" not in mail.subject and "\u2028" not in mail.subject
    assert len(mail.subject) <= SUBJECT_MAX_LENGTH
    assert mail.subject.startswith("Acme Bcc: x@evil V")
    assert mail.subject.endswith("…")


HEADERS = {
    "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
    "content-language", "auto-submitted", "x-auto-response-suppress",
}  # fmt: skip


def test_crlf_in_product_name_or_release_note_adds_no_header() -> None:
    injected = "\r\nBcc: x@evil.example\r\nX-Injected: yes"
    version = VersionFacts(
        "ver-1" + injected, "1.0" + injected, None, "note" + injected, "", NEW.date
    )
    mail = render(
        published(product_name="Acme" + injected, versions=(version,), instructions=injected), "en"
    )
    # Also a hand-made RenderedMail that skipped render()'s cleaning.
    raw_subject = RenderedMail("Hi" + injected, "text" + injected, "<p>x</p>" + injected)

    for rendered in (mail, raw_subject):
        message = reparse(build(rendered))
        assert {name.lower() for name in message.keys()} == HEADERS
        assert message["Bcc"] is None and message["X-Injected"] is None
        head = message.as_bytes().split(b"\n\n", 1)[0]
        assert not re.search(rb"(?m)^(Bcc|X-Injected):", head)
    assert "x@evil.example" in str(reparse(build(mail))["Subject"])  # kept as harmless text


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.com\r\nBcc: x@evil.example",
        "alice@example.com\nBcc: x@evil.example",
        "alice@example.com, bob@example.com",
        "friends: alice@example.com;",
        "not an address",
        "",
        "josé@example.com",
        "x@",  # the stdlib's parser raises IndexError on it
    ],
)
def test_build_refuses_a_recipient_or_sender_that_is_not_one_address(address: str) -> None:
    mail = render(published(), "en")
    with pytest.raises(ValueError):
        build(mail, to=address)
    with pytest.raises(ValueError):
        build(mail, mail_from=address)


def test_build_refuses_a_malformed_message_id() -> None:
    mail = render(published(), "en")
    for bad in ("", "no-brackets@example.com", "<a@b>\r\nBcc: x@evil", "<a b@c>"):
        with pytest.raises(ValueError, match="Message-ID"):
            build(mail, message_id=bad)


# -- the MIME message --------------------------------------------------------------------------


def test_message_is_multipart_alternative_with_all_headers() -> None:
    mail = render(published(), "fr")
    sent_at = datetime(2026, 11, 22, 9, 31, 5, tzinfo=UTC)
    message = reparse(
        build(
            mail, to="Zoé Dupont <zoe@example.fr>", message_id="<abc.1@example.org>", date=sent_at
        )
    )

    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == "omi-bot <omi-bot@marketplace.example>"
    assert message["To"].addresses[0].addr_spec == "zoe@example.fr"
    assert message["To"].addresses[0].display_name == "Zoé Dupont"
    assert message["Subject"] == mail.subject
    assert parsedate_to_datetime(message["Date"]) == sent_at
    assert message["Message-ID"] == "<abc.1@example.org>"
    assert message["MIME-Version"] == "1.0"
    assert message["Content-Language"] == "fr"
    assert message["Auto-Submitted"] == "auto-generated"
    assert body(message, "plain") == mail.text
    assert body(message, "html") == mail.html
    # 7-bit on the wire: no relay needs 8BITMIME for the accents.
    assert message.as_bytes().isascii()


def test_naive_date_is_taken_as_utc() -> None:
    message = build(render(published(), "en"), date=datetime(2026, 11, 22, 9, 31))
    assert message["Date"] == "Sun, 22 Nov 2026 09:31:00 +0000"


def test_message_id_is_deterministic_per_key() -> None:
    first = make_message_id("outbox:42:alice@example.com", "marketplace.example")

    assert first == make_message_id("outbox:42:alice@example.com", "marketplace.example")
    assert first != make_message_id("outbox:43:alice@example.com", "marketplace.example")
    assert re.fullmatch(r"<[0-9a-f]{32}@marketplace\.example>", first)
    assert "alice" not in first  # the key is hashed, not disclosed
    with pytest.raises(ValueError):
        make_message_id("k", "example.org>\r\nBcc: x@evil")
    with pytest.raises(ValueError):
        make_message_id("k", "")


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "en",
            (
                "will be unpublished from OUTSCALE Marketplace on 22 November 2026",
                "VMs already launched from it keep running",
                "It is replaced by the last available version, 2.3.1",
            ),
        ),
        (
            "fr",
            (
                "sera dépubliée d'OUTSCALE Marketplace le 22 novembre 2026",
                "continuent de fonctionner",
                "Elle est remplacée par la dernière version disponible, 2.3.1",
            ),
        ),
    ],
)
def test_scheduled_unpublication_says_the_date_the_replacement_and_vms_keep_running(
    language: str, phrases: tuple[str, ...]
) -> None:
    mail = render(ALL_FACTS[Event.UNPUBLICATION_SCHEDULED], language)
    for phrase in phrases:
        assert phrase in mail.text
        assert phrase.split(",")[0] in mail.html.replace("<strong>", "").replace("</strong>", "")


@pytest.mark.parametrize(
    ("days", "language", "phrase"),
    [(7, "en", "in 7 days, on 22 November"), (1, "en", "in 1 day, on"), (1, "fr", "dans 1 jour,")],
)
def test_reminder_counts_the_days_left(days: int, language: str, phrase: str) -> None:
    mail = render(scheduled(Event.UNPUBLICATION_REMINDER, days_left=days), language)
    assert phrase in mail.text
    assert mail.subject.startswith("Reminder:" if language == "en" else "Rappel :")


def test_whole_product_schedule_lists_every_version_and_no_replacement() -> None:
    facts = MailFacts(
        Event.UNPUBLICATION_SCHEDULED,
        versions=(NEW, OLD),
        last_available=None,
        whole_product=True,
        **PRODUCT,
    )
    mail = render(facts, "en")
    assert "with all its versions" in mail.text
    assert mail.text.count("\n  - ") == 2
    assert "No other version of Acme Vault will remain available." in mail.text
    cancelled = render(
        MailFacts(
            Event.UNPUBLICATION_CANCELLED,
            versions=(NEW,),
            last_available=None,
            whole_product=False,
            **PRODUCT,
        ),
        "fr",
    )
    assert "est annulée : la version reste publiée" in cancelled.text
