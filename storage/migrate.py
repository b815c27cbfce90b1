"""Schema migrations, applied by `omi-bot db upgrade` and on start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser would read "%" in a password as interpolation.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


_HEADS: set[str] = set()


def heads() -> set[str]:
    """The revisions the migrations shipped with this code end at (read once)."""
    if not _HEADS:
        from alembic.script import ScriptDirectory

        _HEADS.update(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    return set(_HEADS)


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is the one this code expects; raises when the database
    cannot be reached."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads()
