"""Migrations on start: a database already at the chain's head is recognised without loading
Alembic; any other is upgraded by Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from storage.db import make_engine
from storage.migrate import alembic_config, at_head, heads, script_head, upgrade

ROOT = Path(__file__).resolve().parents[2]


def test_the_head_read_from_the_files_is_alembics() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script_head() == scripts.get_current_head()
    assert heads() == set(scripts.get_heads())


def test_a_new_database_is_not_at_head_until_upgraded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert not at_head(engine)
    upgrade(engine)
    assert at_head(engine)
    assert "versions" in inspect(engine).get_table_names()
    engine.dispose()


def test_a_database_behind_the_head_is_not_at_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert not at_head(engine)
    engine.dispose()


def test_starting_on_an_up_to_date_database_does_not_load_alembic(database_url: str) -> None:
    probe = (
        "import sys; from commands.bootstrap import bootstrap; "
        "from commands.config import Settings; "
        f"bootstrap(Settings(database_url={database_url!r})); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
