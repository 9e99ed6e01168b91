#!/usr/bin/env bash
# The RabbitMQ + PostgreSQL deployment on this machine: four `atiende serve` processes.
#   bash deploy/run-distributed.sh            (env from var/atiende.env; made from deploy/atiende.env.example,
#                                             with a new token secret, when missing)
# Creates the database if missing, migrates (waiting for PostgreSQL and RabbitMQ), seeds the demo
# tenants, starts the services, waits until each answers /ready, and stops them all on Ctrl-C.
# A service that exits or is not ready within READY_TIMEOUT seconds (60) stops everything this
# script started, names the service and exits non-zero. BASE_PORT (8001) moves the four ports.
# Logs: var/log/<service>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_FILE="${ATIENDE_ENV_FILE:-var/atiende.env}"
BIN="${VENV:-.venv}/bin"
if [ ! -f "$ENV_FILE" ]; then
  # First run: this machine's own env file, the example with a token secret of its own (outside
  # the embedded mode the services refuse the example's empty or published secrets).
  mkdir -p "$(dirname "$ENV_FILE")"
  secret="$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))')"
  sed "s|^ATIENDE_TOKEN_SECRET=.*$|ATIENDE_TOKEN_SECRET=$secret|" deploy/atiende.env.example >"$ENV_FILE"
  chmod 600 "$ENV_FILE"
  echo "created $ENV_FILE from deploy/atiende.env.example with a new ATIENDE_TOKEN_SECRET"
fi
set -a; . "$ENV_FILE"; set +a
mkdir -p var/log

db_name="${ATIENDE_DATABASE_URL##*/}"
admin_url="${ATIENDE_DATABASE_URL%/*}/postgres"
"$BIN/python" - "$admin_url" "$db_name" <<'PY'
import asyncio, sys
import asyncpg
async def main(url: str, name: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name):
        await conn.execute(f'CREATE DATABASE "{name}"')
        print(f"created database {name}")
    await conn.close()
asyncio.run(main(*sys.argv[1:]))
PY

pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# A local SMTP sink when the configured one is not listening (mail printed to var/log/mail.log).
if [ -n "${ATIENDE_SMTP_HOST:-}" ] && ! (exec 3<>"/dev/tcp/${ATIENDE_SMTP_HOST}/${ATIENDE_SMTP_PORT:-25}") 2>/dev/null; then
  "$BIN/python" -m aiosmtpd -n -l "${ATIENDE_SMTP_HOST}:${ATIENDE_SMTP_PORT:-25}" -c aiosmtpd.handlers.Debugging \
    >var/log/mail.log 2>&1 &
  pids+=($!)
fi

"$BIN/atiende" migrate --seed
base="${BASE_PORT:-8001}"
ready_timeout="${READY_TIMEOUT:-60}"
declare -A ports=([intake]=$base [workflow]=$((base + 1)) [notifier]=$((base + 2)) [reporting]=$((base + 3)))
declare -A svc_pid=()
for svc in intake workflow notifier reporting; do
  "$BIN/atiende" serve "$svc" --host 127.0.0.1 --port "${ports[$svc]}" >"var/log/$svc.log" 2>&1 &
  pids+=($!)
  svc_pid[$svc]=$!
done
not_ready() {  # the service, why: loud, then the EXIT trap stops everything started above
  echo "error: $1 $2; stopping every service. Last lines of var/log/$1.log:" >&2
  tail -n 20 "var/log/$1.log" >&2 2>/dev/null || true
  exit 1
}
for svc in intake workflow notifier reporting; do
  ready=0
  for _ in $(seq 1 "$ready_timeout"); do
    if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:${ports[$svc]}/ready').status_code != 200)" \
      2>/dev/null; then ready=1; break; fi
    kill -0 "${svc_pid[$svc]}" 2>/dev/null || not_ready "$svc" "exited before it was ready"
    sleep 1
  done
  [ "$ready" = 1 ] || not_ready "$svc" "did not answer /ready on port ${ports[$svc]} within ${ready_timeout}s"
  echo "$svc ready on http://127.0.0.1:${ports[$svc]}"
done
echo "Atiende (RabbitMQ + PostgreSQL) is up; intake API: http://127.0.0.1:${ports[intake]}/docs. Ctrl-C stops."
wait
