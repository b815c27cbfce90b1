"""A version as `/omi version VERSION_ID` shows it: its row of the Versions table and its
*History*, the audit trail's events about it, newest last.

Everything that comes from people or the cloud (names, reasons, field values) is escaped
through commands.notifications.slack_text and clipped; the lines are packed into sections
that stay within Slack's 3000 characters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.texts import field_label, t
from commands.audit import AuditEvent, Kind, Source
from commands.model import ScheduleState
from commands.notifications.slack_text import Escaped, clip_mrkdwn, mention, mrkdwn
from commands.services import VersionDetails

TEXT = 3000
# A history line's values are cut so that one event never takes a message's room.
VALUE = 80
REASON = 300
# The newest events shown; the rest is for `omi-bot audit list`.
SHOWN = 20


def _who(language: str, e: AuditEvent) -> Escaped:
    if Source(e.source) is Source.SYSTEM:
        return t(language, "history_system")
    shown = mention(e.actor_id) if Source(e.source) is Source.SLACK else mrkdwn(e.actor_id, 64)
    if e.actor_name:
        return Escaped(f"{shown} ({mrkdwn(e.actor_name, VALUE)})")
    return shown


def _value(value: object) -> Escaped:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split()) if value not in (None, "") else "-"
    return mrkdwn(text, VALUE)


def _detail(language: str, e: AuditEvent) -> Escaped:
    d = e.detail
    parts: list[str] = []
    if Kind(e.kind) is Kind.MODIFIED:
        for name, pair in (d.get("changes") or {}).items():
            before, after = [*pair, None, None][:2]
            parts.append(f"{field_label(language, name)}: {_value(before)} → {_value(after)}")
    if d.get("unpublish_on"):
        parts.append(t(language, "history_date", date=d["unpublish_on"]))
    for key in ("recipients", "sent", "days_left"):
        if isinstance(d.get(key), int):
            parts.append(t(language, f"history_{key}", n=d[key]))
    for key in ("copy_id", "recipient", "outcome"):
        if d.get(key):
            parts.append(_value(d[key]))
    if d.get("reason"):
        parts.append(t(language, "history_reason", text=mrkdwn(str(d["reason"]), REASON)))
    return Escaped("".join(f" · {p}" for p in parts))


def history_line(language: str, e: AuditEvent) -> Escaped:
    return t(
        language,
        "history_line",
        date=e.at.strftime("%Y-%m-%d %H:%M UTC"),
        kind=t(language, f"audit_{Kind(e.kind).value}"),
        who=_who(language, e),
        detail=_detail(language, e),
    )


def _sections(lines: Sequence[str]) -> list[Block]:
    """The lines packed into as few sections as fit, each within Slack's limit."""
    blocks: list[Block] = []
    chunk = ""
    for line in lines:
        line = clip_mrkdwn(line, TEXT)
        if chunk and len(chunk) + 1 + len(line) > TEXT:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)))
    return blocks


def history_blocks(
    language: str, version_id: str, events: Sequence[AuditEvent], total: int
) -> list[Block]:
    """The *History* section: the newest SHOWN events, oldest first, and how many are left."""
    shown = list(events)[-SHOWN:]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=t(language, "history_title")))]
    if not shown:
        blocks.append(_context(t(language, "history_empty")))
        return blocks
    if total > len(shown):
        blocks.append(_context(t(language, "history_earlier", n=total - len(shown), id=version_id)))
    blocks += _sections([history_line(language, e) for e in shown])
    return blocks


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip_mrkdwn(text, TEXT))])


def version_blocks(language: str, details: VersionDetails) -> list[dict[str, Any]]:
    v, product = details.version, details.product
    status = t(language, f"status_{v.status.value}")
    schedule = details.schedule
    if schedule is not None:
        when = (
            t(language, "schedule_blocked")
            if schedule.state is ScheduleState.BLOCKED
            else t(language, "schedule_on", date=schedule.unpublish_on.isoformat())
        )
        status = Escaped(f"{status} · {when}")
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=clip_mrkdwn(
                    t(language, "version_title", id=v.id, name=product.name, code=product.code)
                    + "\n"
                    + t(
                        language,
                        "version_facts",
                        status=status,
                        software=mrkdwn(v.software_version or "-", VALUE),
                        omi=mrkdwn(v.omi_id),
                        copy=mrkdwn(v.copy_id or "-"),
                    ),
                    TEXT,
                )
            )
        )
    ]
    blocks += history_blocks(language, v.id, details.history, details.history_total)
    return [b.to_dict() for b in blocks]
