"""Schema migrations, applied by `omi-bot db upgrade` and on start.

Every process applies them on start, and almost always the schema is already at the head of
the chain: that is checked first, from the migration files and the alembic_version table,
without loading Alembic (and Mako), which would otherwise stay in every process's memory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# `revision: str = "0005"` and `down_revision: str | None = "0004"` (or None), as each
# migration file writes them; anything else (a merge's tuple) is left to Alembic.
_ASSIGNED = re.compile(r'^(down_revision|revision)\b[^=\n]*=\s*(?:"([^"\n]+)"|(None))\s*$', re.M)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser would read "%" in a password as interpolation.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def script_head() -> str | None:
    """The chain's one head read from the files, or None when they cannot be read simply
    (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {name: value or None for name, value, _ in _ASSIGNED.findall(path.read_text())}
        if "revision" not in found or "down_revision" not in found or not found["revision"]:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


_HEADS: set[str] = set()


def heads() -> set[str]:
    """The revisions the migrations shipped with this code end at (read once): from the files
    when they read simply, else from Alembic."""
    if not _HEADS:
        head = script_head()
        if head is not None:
            _HEADS.add(head)
        else:
            from alembic.script import ScriptDirectory

            _HEADS.update(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    return set(_HEADS)


def current_heads(connection: Connection) -> set[str]:
    """The revisions the database is at (none for a new one), as Alembic records them."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is the one this code expects; raises when the database
    cannot be reached."""
    with engine.connect() as connection:
        return current_heads(connection) == heads()


# Any constant: with the schema's name, the key of the advisory lock upgrades take on PostgreSQL.
UPGRADE_LOCK = 0x0_6D_69_62  # "omib"


def upgrade(engine: Engine) -> None:
    if at_head(engine):
        return
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # A migration may take longer than any statement of a running omi-bot (an index
            # built on a large table), and so may the one another replica is running.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            lock_timeout = connection.exec_driver_sql("SHOW lock_timeout").scalar_one()
            connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
            # Replicas starting together would each create the same tables; they take turns
            # instead, and the later ones find the schema at head. Released at commit. Keyed
            # on the schema too: installs in other schemas of the database do not wait.
            connection.exec_driver_sql(
                f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK}, hashtext(current_schema()))"
            )
            # The migrations' own table locks wait no longer than usual: one stuck behind a
            # transaction left open would queue every running process's statements behind
            # it. It fails instead (rolled back whole), and can be run again.
            connection.execute(
                text("SELECT set_config('lock_timeout', :value, true)"), {"value": lock_timeout}
            )
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
