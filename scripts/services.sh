#!/usr/bin/env bash
# Starts the local PostgreSQL and RabbitMQ when they are installed but stopped (installing
# RabbitMQ, and PostgreSQL, from Debian's packages when missing), bound to 127.0.0.1, and waits
# until both answer. Usage: scripts/services.sh start
set -euo pipefail

log() { printf 'services: %s\n' "$*"; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
rabbit_ready() { timeout 10 rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing postgresql"; apt_install postgresql postgresql-client
  fi
  if pg_ready; then return; fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  conf=/etc/postgresql/$version/main
  # Loopback only, trust auth for local development and tests.
  if ! grep -q "^listen_addresses = '127.0.0.1'" "$conf/postgresql.conf" 2>/dev/null; then
    echo "listen_addresses = '127.0.0.1'" | sudo_if_needed tee -a "$conf/postgresql.conf" >/dev/null
  fi
  if ! grep -q "aftersales: trust loopback" "$conf/pg_hba.conf" 2>/dev/null; then
    sudo_if_needed sed -i '1i # aftersales: trust loopback\nhost all all 127.0.0.1/32 trust\nlocal all all trust' "$conf/pg_hba.conf"
  fi
  log "starting postgresql $version"
  sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_ready && return; sleep 1; done
  log "postgresql did not start"; exit 1
}

start_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "installing rabbitmq-server"; apt_install rabbitmq-server
    echo "NODE_IP_ADDRESS=127.0.0.1" | sudo_if_needed tee -a /etc/rabbitmq/rabbitmq-env.conf >/dev/null
  fi
  if rabbit_ready; then return; fi
  log "starting rabbitmq"
  sudo_if_needed rabbitmq-server -detached || true
  for _ in $(seq 1 90); do rabbit_ready && return; sleep 1; done
  log "rabbitmq did not start"; exit 1
}

case "${1:-start}" in
  start) start_postgres; start_rabbitmq; log "postgresql and rabbitmq are up" ;;
  *) echo "usage: $0 start" >&2; exit 2 ;;
esac
