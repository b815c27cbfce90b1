"""The two kinds of failure a person can be told about.

A `UserError` is the asker's to fix (bad input, a rule of the seed): it changes nothing and is
answered with one clear sentence. A `CloudError` comes from OUTSCALE or the infrastructure; a
`DatabaseUnavailable`, from the database being out of reach for a while."""

from __future__ import annotations

# How much of a typed value a refusal repeats: enough to recognise it, never the whole of a
# 100,000-character paste.
QUOTED_MAX = 60


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def clipped(value: object, limit: int = QUOTED_MAX) -> str:
    """A value a person gave, for a one-line message: what does not print (a line break, a NUL)
    escaped as Python writes it, and cut with a visible "…" past `limit`."""
    text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return _cut(text, limit)


def quoted(value: object, limit: int = QUOTED_MAX) -> str:
    """The same, quoted (Python's quoting escapes what does not print)."""
    return repr(_cut(str(value), limit))


class OmiError(Exception):
    """Base of every error omi-bot reports to a person as one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UserError(OmiError):
    """Bad input or a rule refused it; nothing was changed."""


class NotFound(UserError):
    """The product, version or request named does not exist."""


class RuleBroken(UserError):
    """One of the seed's rules (R1–R9) forbids the operation."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class FormErrors(UserError):
    """The Version form has invalid fields; `fields` maps a field name to its message so a
    modal can show each one inline."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(" ".join(fields.values()))
        self.fields = dict(fields)


class NotAllowed(UserError):
    """The person may not do this (not a release manager, approving their own request...)."""


class CloudError(OmiError):
    """OUTSCALE refused a call, or could not be reached.

    `retryable` is true for what may pass later (network, throttling, 5xx)."""

    def __init__(
        self,
        action: str,
        message: str,
        *,
        code: str | None = None,
        type_: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.action = action
        self.code = code
        self.type = type_
        self.retryable = retryable


class DatabaseUnavailable(OmiError):
    """The database could not be reached (restarting, failing over, the network), or cut a
    statement off at its time limit (a lock held elsewhere): nothing was changed, and the same
    request may simply be tried again in a moment. `reason`, for the log: a few words, never
    the driver's message (it may hold a connection URL)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def database_unavailable(error: BaseException) -> DatabaseUnavailable | None:
    """`error` as a DatabaseUnavailable when it is one or says so (storage.db.unreachable:
    the database out of reach, or a statement cut off at its time limit), else None."""
    if isinstance(error, DatabaseUnavailable):
        return error
    # Imported here: reading the settings for `--help` needs no SQLAlchemy.
    from storage.db import unreachable, why_unreachable

    if not unreachable(error):
        return None
    return DatabaseUnavailable("The database cannot be used right now.", why_unreachable(error))
