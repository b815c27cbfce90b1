#!/usr/bin/env bash
# Makes sure the PostgreSQL at $1 answers: starts this machine's cluster if it is down, and
# fails (never skips) when it still cannot be reached.
set -uo pipefail
url=${1:?postgresql URL}
probe() {
  .venv/bin/python - "$url" <<'PY'
import sys
from sqlalchemy import create_engine, text
try:
    with create_engine(sys.argv[1]).connect() as c:
        c.execute(text("SELECT 1"))
except Exception as exc:
    print(f"PostgreSQL not reachable: {type(exc).__name__}", file=sys.stderr)
    sys.exit(1)
PY
}
if probe 2>/dev/null; then exit 0; fi
echo "PostgreSQL is down; starting it"
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
fi
for _ in $(seq 1 30); do
  if probe 2>/dev/null; then exit 0; fi
  sleep 1
done
probe
echo "PostgreSQL at $url cannot be reached: the tests cannot run on it." >&2
exit 1
