# Aftersales: the commands people run. `just` lists them.

services := "orders returns repairs logistics payments complaints"
# every process `just up` runs: the six services and the saga orchestrator
processes := services + " orchestrator"
export PATH := justfile_directory() + "/.venv/bin:" + env_var("PATH")

# list the recipes
default:
    @just --list --unsorted

# install and start PostgreSQL and RabbitMQ if needed, install just, buf, grpcurl and Prometheus's promtool
bootstrap:
    scripts/bootstrap.sh

# build every binary
build:
    cargo build --workspace --bins

# create the databases if needed, migrate, and run the six services and the orchestrator in the foreground (Ctrl-C stops all)
up: build
    scripts/services.sh start
    scripts/up.sh {{processes}}

# create the databases if needed and apply pending migrations of every service and the orchestrator
migrate: build
    scripts/services.sh start
    for s in {{processes}}; do target/debug/aftersales-$s migrate; done

# run unit and integration tests against the local PostgreSQL and RabbitMQ, and check deploy/prometheus with promtool
test: build check-deploy
    scripts/services.sh start
    cargo test --workspace --no-fail-fast

# the crash suite: 50 refund-only sagas on 2 orchestrator replicas killed (-9) 6 times, a service killed, RabbitMQ restarted
chaos sagas="50" kills="6": build
    scripts/services.sh start
    CHAOS_SAGAS={{sagas}} CHAOS_KILLS={{kills}} cargo test -p aftersales-integration-tests --test chaos

# run a flow (or `all`) against the running system (`just up` in another terminal), playing every party, and print its saga timeline
demo flow="all": build
    target/debug/aftersales-demo {{flow}}

# operator CLI for sagas, e.g. `just ctl saga list --status needs-attention`
ctl *args: build
    target/debug/aftersalesctl {{args}}

# fmt check, clippy with warnings as errors, buf lint
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cd proto && buf lint

# format the code
fmt:
    cargo fmt --all

# validate deploy/prometheus with promtool (config, alerting rules, the rules' unit tests) and check each alert's runbook section exists in docs/operations.md
check-deploy:
    @command -v promtool >/dev/null || { echo "check-deploy: promtool not found, run scripts/bootstrap.sh" >&2; exit 1; }
    promtool check config deploy/prometheus/prometheus.yml
    promtool check rules deploy/prometheus/alerts.yml
    promtool test rules deploy/prometheus/alerts_test.yml
    @for a in $(grep -o 'operations.md#[a-z0-9-]*' deploy/prometheus/alerts.yml | cut -d'#' -f2); do grep -qix "### $a" docs/operations.md || { echo "check-deploy: no runbook section '### $a' in docs/operations.md" >&2; exit 1; }; done
