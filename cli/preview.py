"""`omi-bot versions preview REQUEST_ID`: what a pending request will send and do once
approved, as the release managers' Preview shows it in Slack, in a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from cli.common import Ctx, operator, pass_ctx, reported
from commands.model import RequestKind
from commands.notifications.mail import LANGUAGES
from commands.preview import (
    COPY_ID_PLACEHOLDER,
    VERSION_ID_PLACEHOLDER,
    CloudWork,
    Preview,
    preview_request,
)

FIELDS = (
    ("omi", "OMI"),
    ("software_version", "Software version"),
    ("operating_system", "Operating system"),
    ("software_base", "Software base"),
    ("release_note", "Release note"),
    ("instructions", "Instructions for use"),
)
LABELS = dict(FIELDS)
RULE = "-" * 72


@click.command("preview")
@click.argument("request_id", type=int)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    help="Show the notices in this language only (default: every language).",
)
@click.option("--recipients", is_flag=True, help="List every account, address and channel.")
@pass_ctx
@reported
def versions_preview(ctx: Ctx, request_id: int, lang: str | None, recipients: bool) -> None:
    """What a pending request will send and do once approved."""
    preview = preview_request(ctx.core, request_id, by=operator())
    echo_preview(preview, [lang] if lang else LANGUAGES, recipients=recipients)


def echo_preview(preview: Preview, languages: Sequence[str], *, recipients: bool = False) -> None:
    """The preview, as text: the same parts the Slack modal shows."""
    for line in preview_lines(preview, languages, recipients=recipients):
        click.echo(line)


def preview_lines(
    preview: Preview, languages: Sequence[str], *, recipients: bool = False
) -> Iterable[str]:
    request, product = preview.request, preview.product
    what = {
        RequestKind.PUBLISH: "publish a new version",
        RequestKind.UNPUBLISH: f"unpublish version {request.version_id}",
        RequestKind.UNPUBLISH_PRODUCT: "unpublish the whole product",
    }[request.kind]
    on = f" on {preview.unpublish_on.isoformat()}" if preview.unpublish_on else " at once"
    number = f"Request {request.id}" if getattr(request, "id", None) else "Request (not made)"
    yield (
        f"{number}: {what} of {product.name} (product code {product.code})"
        + (on if request.kind is not RequestKind.PUBLISH else "")
        + f", asked by {request.requested_by}"
    )
    yield ""
    yield from _form(preview)
    yield ""
    yield "Cloud work"
    yield from (f"  {line}" for line in cloud_lines(preview.cloud))
    yield ""
    yield from _reach(preview, recipients)
    for lang in languages:
        notice = preview.notices[lang]
        yield ""
        yield f"Mail ({lang}), to {notice.recipients} recipient(s)"
        yield RULE
        yield f"Subject: {notice.mail.subject}"
        yield ""
        yield from notice.mail.text.rstrip("\n").split("\n")
        yield RULE
        yield ""
        yield f"Slack announcement ({lang}), to {notice.channels} channel(s)"
        yield RULE
        yield from announcement_lines(notice.announcement.blocks)
        yield RULE
    if request.kind is RequestKind.PUBLISH:
        yield ""
        yield (
            f"{VERSION_ID_PLACEHOLDER} is the version's ID, given at approval; "
            f"{COPY_ID_PLACEHOLDER} the OMI copy's, given when the copy is made."
        )


def _form(preview: Preview) -> Iterable[str]:
    if preview.form is not None:
        yield "Version form"
        values = preview.form.as_dict()
        for name, label in FIELDS:
            value = values[name]
            shown = ", ".join(value) if isinstance(value, list) else str(value)
            lines = (shown or "-").split("\n")
            yield f"  {label:<22}{lines[0]}"
            yield from (f"  {'':<22}{line}" for line in lines[1:])
        previous = preview.previous
        if previous is None:
            yield "  First version of this product."
        elif not preview.changes:
            yield f"  No change from version {previous.id} (software version, operating system, "
            yield "  software base, instructions)."
        else:
            yield f"Changes since version {previous.id}"
            for name, old, new in preview.changes:
                yield f"  {LABELS[name]}: {old or '-'} -> {new or '-'}"
        return
    yield "Versions unpublished"
    for version in preview.versions:
        yield (
            f"  {version.id}  {version.software_version or '-'}  {version.status.value}  "
            f"OMI copy {version.copy_id or '-'}"
        )


def cloud_lines(cloud: CloudWork) -> Iterable[str]:
    into = cloud.distribution_account or "the distribution account"
    if cloud.source_omi is not None:
        name = f" ({cloud.source_name})" if cloud.source_name else ""
        if cloud.grant_source:
            yield (
                f"The seller account {cloud.seller_account} lets {into} launch "
                f"{cloud.source_omi} (1 UpdateImage call)."
            )
        yield (
            f"Copy {cloud.source_omi}{name} from the seller account {cloud.seller_account} "
            f"into the distribution account {into}, tagged with the version's ID."
        )
        if cloud.public:
            yield "Make the copy public (1 UpdateImage call): the product is free or BYOL."
        elif cloud.accounts:
            yield (
                f"Share the copy with {cloud.accounts} subscriber account(s) in "
                f"{cloud.share_calls} UpdateImage call(s) (up to {cloud.batch_size} accounts a "
                "call: OMI_SHARE_BATCH_SIZE)."
            )
        else:
            yield "Share the copy with nobody: the product has no subscriber yet."
        return
    when = f"on {cloud.on.isoformat()}" if cloud.on else "at once"
    if not cloud.deletions:
        yield f"Nothing to delete ({when}): no OMI copy is left."
    for version_id, copy_id in cloud.deletions:
        yield (
            f"Delete the OMI copy {copy_id} of version {version_id} from {into} {when} "
            "(VMs already running keep running)."
        )


def _reach(preview: Preview, recipients: bool) -> Iterable[str]:
    yield (
        f"Who receives it: {preview.accounts} subscriber account(s), "
        f"{len(preview.recipients)} mail recipient(s), {len(preview.channels)} Slack channel(s)"
    )
    if not preview.organizations:
        yield "  Nobody: the product has no subscriber."
    for org in preview.organizations:
        yield (
            f"  {org.name} ({org.language}): {len(org.accounts)} account(s), "
            f"{len(org.addresses)} address(es), {len(org.channels)} channel(s)"
        )
        if recipients:
            yield f"    accounts: {', '.join(org.accounts)}"
            yield f"    mail:     {', '.join(org.addresses) or '-'}"
            yield f"    channels: {', '.join(org.channels) or '-'}"
    if not recipients and preview.organizations:
        yield "  (--recipients lists them)"


def _shown(mrkdwn: str) -> str:
    """Mrkdwn as Slack shows it: the escaped `&`, `<`, `>` as typed."""
    return mrkdwn.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def announcement_lines(blocks: Sequence[Mapping[str, Any]]) -> Iterable[str]:
    """A Block Kit message as plain lines: headers, sections and their fields, context."""
    for block in blocks:
        kind = block.get("type")
        if kind == "divider":
            yield ""
            continue
        texts: list[str] = []
        text = block.get("text")
        if isinstance(text, Mapping):
            texts.append(str(text.get("text") or ""))
        texts += [str(f.get("text") or "") for f in block.get("fields") or []]
        texts += [
            str(e.get("text") or "") for e in block.get("elements") or [] if isinstance(e, Mapping)
        ]
        for part in texts:
            yield from _shown(part).split("\n")
        if kind != "context":
            yield ""
