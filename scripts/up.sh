#!/usr/bin/env bash
# Runs the given services (default ports, local PostgreSQL and RabbitMQ) in the foreground.
# Each creates its database if needed and migrates on start. Ctrl-C or any exit stops them all.
set -uo pipefail
cd "$(dirname "$0")/.."
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  wait
}
trap stop INT TERM EXIT
for s in "$@"; do
  target/debug/aftersales-"$s" serve > >(trap '' INT TERM; exec sed -u "s/^/[$s] /") 2>&1 &
  pids+=("$!")
done
# The first process to exit (crash or Ctrl-C) stops the rest.
wait -n
