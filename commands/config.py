"""Settings from the environment (and a `.env` file), with embedded defaults that need no
set-up: SQLite, Maildir mail, the standard OUTSCALE configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from commands.errors import UserError, quoted


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{name} must be a number, not {quoted(raw)}.") from None
    if value < 0:
        raise UserError(f"{name} must not be negative.")
    return value


def _user_cache_dir(env: Mapping[str, str]) -> str | None:
    base = env.get("XDG_CACHE_HOME")
    if not base:
        home = env.get("HOME")
        if not home:
            return None
        base = str(Path(home) / ".cache")
    return str(Path(base) / "omi-bot")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///omi-bot.db"
    smtp_url: str | None = field(default=None, repr=False)  # may hold a password
    mail_from: str = "omi-bot <omi-bot@localhost>"
    maildir: str = "mail"
    # Where what is worth keeping between processes is kept (the parsed OUTSCALE API spec);
    # None: nothing is kept. From the environment: OMI_CACHE_DIR, else the XDG cache folder.
    cache_dir: str | None = None
    # PostgreSQL only; 0: the server's own setting. omi-bot's statements are short: one
    # running this long is stuck, and is cancelled and tried again later instead of holding a
    # connection and a worker for ever.
    statement_timeout_seconds: float = 30.0
    # omi-bot holds its row locks for milliseconds (no OUTSCALE or Slack call inside a
    # transaction); a wait this long is on someone else's lock (a session left open in a
    # transaction, a schema change by hand). Under Slack's 3 seconds, so that a Slack request
    # blocked on one is still answered "try again" in time.
    lock_timeout_seconds: float = 2.0
    # osc-sdk-python profiles (~/.osc/config.json or OSC_CONFIG_FILE); None: the SDK's own
    # choice (OSC_PROFILE, then "default"), OSC_* variables applying on top as usual.
    seller_profile: str | None = None
    distribution_profile: str | None = None
    osc_timeout: float = 30.0
    # osc-sdk-python retries 429 and 5xx itself; these tune its backoff (None: its defaults).
    osc_max_retries: int | None = None
    osc_retry_backoff: float | None = None
    # osc-sdk-python paces its calls (5 a second per identity by default).
    osc_rate_limit: int | None = None
    copy_poll_seconds: float = 5.0
    share_batch_size: int = 100
    worker_poll_seconds: float = 2.0
    job_lease_seconds: float = 120.0
    job_max_attempts: int = 8
    retry_base_seconds: float = 10.0
    # SIGTERM to exit: in-flight Slack requests and the running step get this long.
    shutdown_seconds: float = 20.0
    # How long a mail the server keeps deferring is retried after its event, then failed.
    mail_retry_seconds: float = 86400.0
    # How long an OMI copy may stay pending before its publication fails.
    copy_timeout_seconds: float = 3600.0
    # How often the cloud is compared with the Versions table (0: never by itself).
    drift_interval_seconds: float = 3600.0
    # `versions publish --no-approval` (publishing with nobody approving) is refused unless the
    # installation allows it with OMI_ALLOW_DIRECT=1.
    allow_direct: bool = False

    def database_limits(self) -> dict[str, float]:
        """storage.db.make_engine's limits on every statement."""
        return {
            "statement_timeout": self.statement_timeout_seconds,
            "lock_timeout": self.lock_timeout_seconds,
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        batch = int(_float(env, "OMI_SHARE_BATCH_SIZE", 100))
        if not 1 <= batch <= 1000:
            raise UserError("OMI_SHARE_BATCH_SIZE must be between 1 and 1000.")
        # Imported here: the mail templates are not needed to read settings for `--help`.
        from commands.notifications.mail import message_id_domain

        mail_from = env.get("OMI_MAIL_FROM") or cls.mail_from
        try:
            message_id_domain(mail_from)
        except ValueError as bad:
            raise UserError(f"OMI_MAIL_FROM must be one address with a domain ({bad}).") from None
        return cls(
            database_url=env.get("OMI_DATABASE_URL") or cls.database_url,
            smtp_url=env.get("OMI_SMTP_URL") or None,
            mail_from=mail_from,
            maildir=env.get("OMI_MAILDIR") or cls.maildir,
            cache_dir=env.get("OMI_CACHE_DIR") or _user_cache_dir(env),
            statement_timeout_seconds=_float(
                env, "OMI_DATABASE_STATEMENT_TIMEOUT_SECONDS", cls.statement_timeout_seconds
            ),
            lock_timeout_seconds=_float(
                env, "OMI_DATABASE_LOCK_TIMEOUT_SECONDS", cls.lock_timeout_seconds
            ),
            seller_profile=env.get("OMI_SELLER_PROFILE") or None,
            distribution_profile=env.get("OMI_DISTRIBUTION_PROFILE") or None,
            osc_timeout=_float(env, "OMI_OSC_TIMEOUT", cls.osc_timeout),
            osc_max_retries=(
                int(_float(env, "OMI_OSC_MAX_RETRIES", 0))
                if env.get("OMI_OSC_MAX_RETRIES")
                else None
            ),
            osc_retry_backoff=(
                _float(env, "OMI_OSC_RETRY_BACKOFF", 0)
                if env.get("OMI_OSC_RETRY_BACKOFF")
                else None
            ),
            copy_poll_seconds=_float(env, "OMI_COPY_POLL_SECONDS", cls.copy_poll_seconds),
            osc_rate_limit=(
                int(_float(env, "OMI_OSC_RATE_LIMIT", 5)) if env.get("OMI_OSC_RATE_LIMIT") else None
            ),
            share_batch_size=batch,
            worker_poll_seconds=_float(env, "OMI_WORKER_POLL_SECONDS", cls.worker_poll_seconds),
            job_lease_seconds=_float(env, "OMI_JOB_LEASE_SECONDS", cls.job_lease_seconds),
            job_max_attempts=int(_float(env, "OMI_JOB_MAX_ATTEMPTS", cls.job_max_attempts)),
            retry_base_seconds=_float(env, "OMI_RETRY_BASE_SECONDS", cls.retry_base_seconds),
            shutdown_seconds=_float(env, "OMI_SHUTDOWN_SECONDS", cls.shutdown_seconds),
            mail_retry_seconds=_float(env, "OMI_MAIL_RETRY_SECONDS", cls.mail_retry_seconds),
            copy_timeout_seconds=_float(env, "OMI_COPY_TIMEOUT_SECONDS", cls.copy_timeout_seconds),
            drift_interval_seconds=_float(
                env, "OMI_DRIFT_INTERVAL_SECONDS", cls.drift_interval_seconds
            ),
            allow_direct=(env.get("OMI_ALLOW_DIRECT") or "").strip() == "1",
        )
