# Aftersales: the commands people run. `just` lists them.

services := "orders returns repairs logistics payments complaints"
export PATH := justfile_directory() + "/.venv/bin:" + env_var("PATH")

# list the recipes
default:
    @just --list --unsorted

# install and start PostgreSQL and RabbitMQ if needed, install just, buf and grpcurl
bootstrap:
    scripts/bootstrap.sh

# build every binary
build:
    cargo build --workspace --bins

# create the databases if needed, migrate, and run all services in the foreground (Ctrl-C stops all)
up: build
    scripts/services.sh start
    scripts/up.sh {{services}}

# create the databases if needed and apply pending migrations of every service
migrate: build
    scripts/services.sh start
    for s in {{services}}; do target/debug/aftersales-$s migrate; done

# run unit and integration tests against the local PostgreSQL and RabbitMQ
test: build
    scripts/services.sh start
    cargo test --workspace --no-fail-fast

# fmt check, clippy with warnings as errors, buf lint
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cd proto && buf lint

# format the code
fmt:
    cargo fmt --all
