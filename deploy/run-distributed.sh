#!/usr/bin/env bash
# The RabbitMQ + PostgreSQL deployment on this machine: four `atiende serve` processes.
#   bash deploy/run-distributed.sh            (env from var/atiende.env, else deploy/atiende.env.example)
# Creates the database if missing, migrates, seeds the demo tenants, starts the services, waits
# until each answers /ready, and stops them all on Ctrl-C. Logs: var/log/<service>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_FILE="${ATIENDE_ENV_FILE:-var/atiende.env}"
[ -f "$ENV_FILE" ] || ENV_FILE=deploy/atiende.env.example
set -a; . "$ENV_FILE"; set +a
BIN="${VENV:-.venv}/bin"
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
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# A local SMTP sink when the configured one is not listening (mail printed to var/log/mail.log).
if [ -n "${ATIENDE_SMTP_HOST:-}" ] && ! (exec 3<>"/dev/tcp/${ATIENDE_SMTP_HOST}/${ATIENDE_SMTP_PORT:-25}") 2>/dev/null; then
  "$BIN/python" -m aiosmtpd -n -l "${ATIENDE_SMTP_HOST}:${ATIENDE_SMTP_PORT:-25}" -c aiosmtpd.handlers.Debugging \
    >var/log/mail.log 2>&1 &
  pids+=($!)
fi

"$BIN/atiende" migrate --seed
declare -A ports=([intake]=8001 [workflow]=8002 [notifier]=8003 [reporting]=8004)
for svc in intake workflow notifier reporting; do
  "$BIN/atiende" serve "$svc" --host 127.0.0.1 --port "${ports[$svc]}" >"var/log/$svc.log" 2>&1 &
  pids+=($!)
done
for svc in intake workflow notifier reporting; do
  for _ in $(seq 1 60); do
    "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:${ports[$svc]}/ready').status_code != 200)" \
      2>/dev/null && break
    sleep 1
  done
  echo "$svc ready on http://127.0.0.1:${ports[$svc]}"
done
echo "Atiende (RabbitMQ + PostgreSQL) is up; intake API: http://127.0.0.1:8001/docs. Ctrl-C stops."
wait
