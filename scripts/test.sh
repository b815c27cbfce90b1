#!/usr/bin/env bash
# The test command: the whole suite on SQLite, then again on PostgreSQL.
#   OMI_TEST_PG_URL   PostgreSQL to test on (default: this machine's, database "test")
#   OMI_TEST_SQLITE_ONLY=1   skip the PostgreSQL run (a machine without PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PG_URL=${OMI_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}

.venv/bin/ruff check .
echo "== tests on SQLite"
.venv/bin/python -m pytest -q "$@"

if [ "${OMI_TEST_SQLITE_ONLY:-}" = 1 ]; then
  exit 0
fi
bash scripts/postgres.sh "$PG_URL"
echo "== tests on PostgreSQL"
OMI_TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest -q "$@"
