#!/usr/bin/env bash
# The whole job on embedded defaults, from nothing: the OUTSCALE sandbox, SQLite, Maildir mail.
# Loads the example catalog, publishes two versions, unpublishes one, delivers the notices and
# prints the Versions table. Everything lands in ./demo (removed at the next run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

rm -rf demo && mkdir -p demo
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
omi-bot sandbox --port "$port" --copy-delay 1 > demo/sandbox.log 2>&1 &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null || true' EXIT

# osc-sdk-python profiles for the sandbox's public demo accounts (see README)
cat > demo/osc-config.json <<JSON
{
  "seller": {"access_key": "SELLERACCESSKEY0001", "secret_key": "seller-secret-key-demo",
             "region": "eu-west-2", "endpoints": {"api": "http://127.0.0.1:$port/api/v1"}},
  "distribution": {"access_key": "DISTRIBACCESSKEY0002",
                   "secret_key": "distribution-secret-key-demo",
                   "region": "eu-west-2", "endpoints": {"api": "http://127.0.0.1:$port/api/v1"}}
}
JSON
export OSC_CONFIG_FILE="$PWD/demo/osc-config.json"
export OMI_SELLER_PROFILE=seller OMI_DISTRIBUTION_PROFILE=distribution
export OMI_DATABASE_URL="sqlite:///$PWD/demo/omi-bot.db"
export OMI_MAILDIR="$PWD/demo/mail"
export OMI_MAIL_FROM="Marketplace notices <omi-bot@example.com>"
export OMI_COPY_POLL_SECONDS=0.5
# No Slack here to approve in: the demo publishes directly, which the installation must allow.
export OMI_ALLOW_DIRECT=1

for _ in $(seq 1 50); do
  python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.2
done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step omi-bot db upgrade
step omi-bot catalog apply examples/catalog.toml
step omi-bot products list
step omi-bot omis list 0001
step omi-bot versions publish --no-approval 0001 --omi debian-12-nginx-1.24 --software-version 1.24 \
  --os "Debian 12" --software-base nginx-1.24 --software-base openssl-3.0 \
  --release-note "First release: nginx 1.24 on Debian 12." \
  --instructions "Log in as outscale with your key pair." --wait
step omi-bot versions publish --no-approval 0001 --omi ami-5e11e002 --software-version 1.26 \
  --software-base nginx-1.26 --software-base openssl-3.0 \
  --release-note "nginx 1.26: HTTP/3 enabled, security fixes." --wait
first=$(omi-bot versions list 0001 --json | python -c \
  'import json,sys; rows=json.load(sys.stdin)["versions"]; print(rows[-1]["id"])')
step omi-bot versions list 0001
step omi-bot versions unpublish "$first" --wait
step omi-bot mail send
step omi-bot mail list
step omi-bot versions show "$first"
step omi-bot versions list 0001
printf '\nThe notices are in %s (a Maildir: mutt -f %s reads it).\n' "demo/mail" "demo/mail"
