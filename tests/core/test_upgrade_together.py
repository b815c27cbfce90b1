"""`omi-bot db upgrade` started by several processes at the same moment on an empty
PostgreSQL schema (replicas restarting together): they take turns, all exit 0, and the schema
ends at head once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import make_engine
from tests.conftest import TEST_DATABASE_URL, fresh_schema

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="concurrent upgrades share one PostgreSQL server"
)


@pytest.fixture
def empty_schema() -> Iterator[str]:
    with fresh_schema("upgrade") as url:
        yield url


def test_upgrades_started_together_take_turns(empty_schema: str, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMI_DATABASE_URL": empty_schema}
    started = [
        subprocess.Popen(
            [sys.executable, "-c", "from cli.main import main; main()", "db", "upgrade"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in started]
    assert [p.returncode for p in started] == [0] * 4, outputs
    engine = make_engine(empty_schema)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    chain = sorted(p.name[:4] for p in (root / "storage/migrations/versions").glob("0*.py"))
    assert versions == [chain[-1]]
