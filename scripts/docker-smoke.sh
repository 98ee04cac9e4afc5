#!/usr/bin/env bash
# Smoke test of the server image on a machine with a Docker daemon: build the image, run it on a
# SQLite volume, wait for its HEALTHCHECK, send an event with an ingest key and read it back,
# stop it (SIGTERM) and check it exits cleanly with JSON logs, start a new container on the same
# volume and find the event again. Prints the figures (image size, build time, time to healthy,
# stop time).
# With --compose: the same on compose.yaml (server + PostgreSQL), the event also looked up in
# PostgreSQL itself.
#
# Usage: scripts/docker-smoke.sh [--compose] [BASE_IMAGE]
#   BASE_IMAGE  the Python 3.11 image to build on (default python:3.11-slim, the Dockerfile's);
#               e.g. local/python:3.11-slim made by scripts/debian-base-image.sh
# Environment:
#   POSTGRES_IMAGE with --compose (default postgres:15; e.g. local/postgres:15, made with
#                  scripts/local-postgres/Dockerfile)
#   SMOKE_TAG      tag of the image built (default omotenashi:smoke)
#   SMOKE_NETWORK  `host` to build and run on the host's network, where Docker's bridge cannot
#                  reach the internet (default: Docker's bridge, the port published on 127.0.0.1)
#   SMOKE_PORT     host port with SMOKE_NETWORK=host or --compose (default 18000)
#   SMOKE_BUILD=0  skip the build and test the image SMOKE_TAG as it is
#   SMOKE_KEEP=1   leave the container and its volume for inspection
# Not part of the tests or CI: their machines have no Docker daemon. Needs docker and curl (and
# `docker compose` or docker-compose for --compose).
set -euo pipefail

compose=0
if [[ ${1:-} == --compose ]]; then
    compose=1
    shift
fi
base=${1:-python:3.11-slim}
tag=${SMOKE_TAG:-omotenashi:smoke}
network=${SMOKE_NETWORK:-bridge}
run_id=omotenashi-smoke-$$
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }
ctr=$run_id # the server's container
log=${TMPDIR:-/tmp}/$run_id.log
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    if docker container inspect "$ctr" > /dev/null 2>&1; then
        printf -- '--- server logs (last 30 lines)\n' >&2
        docker logs --tail 30 "$ctr" >&2 || true
    fi
    exit 1
}
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
longer_than() { awk -v a="$1" -v b="$(now)" -v limit="$2" 'BEGIN { exit !(b - a > limit) }'; }
compose_cmd() {
    if docker compose version > /dev/null 2>&1; then
        docker compose -p "$run_id" -f compose.yaml "$@"
    else
        docker-compose -p "$run_id" -f compose.yaml "$@"
    fi
}
cleanup() {
    if [[ ${SMOKE_KEEP:-0} == 1 ]]; then
        echo "kept: container(s) and volume(s) $run_id*" >&2
        return
    fi
    if [[ $compose == 1 ]]; then
        compose_cmd down --volumes > /dev/null 2>&1 || true
    else
        docker rm -f "$run_id" "$run_id-2" > /dev/null 2>&1 || true
        docker volume rm "$run_id" > /dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

for tool in docker curl; do
    command -v "$tool" > /dev/null || fail "'$tool' is not installed"
done
if [[ $compose == 1 ]]; then
    docker compose version > /dev/null 2>&1 || command -v docker-compose > /dev/null ||
        fail "neither 'docker compose' nor docker-compose is installed"
fi
docker info > /dev/null 2>&1 || fail "no Docker daemon answers (docker info)"

if [[ ${SMOKE_BUILD:-1} != 0 ]]; then
    step "build $tag on $base"
    started=$(now)
    build_network=()
    [[ $network == host ]] && build_network=(--network host)
    docker build "${build_network[@]}" --build-arg PYTHON_IMAGE="$base" -t "$tag" . \
        > "$log" 2>&1 || {
        tail -n 30 "$log" >&2
        fail "docker build failed (log: $log)"
    }
    build_s="$(seconds "$started" "$(now)") s"
    rm -f "$log"
else
    build_s="(not built: SMOKE_BUILD=0)"
fi
size_mb=$(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f", $1 / 1e6 }')
user=$(docker image inspect --format '{{.Config.User}}' "$tag")
[[ -n $user && $user != root && $user != 0 ]] || fail "the image runs as root (User='$user')"
docker image inspect --format '{{.Config.Healthcheck.Test}}' "$tag" | grep -q /v1/ready ||
    fail "the image has no HEALTHCHECK on /v1/ready"

# start (again) the container and wait until Docker reports it healthy; prints the seconds
wait_healthy() {
    local started status
    started=$(now)
    for _ in $(seq 1 240); do
        status=$(docker inspect --format '{{.State.Health.Status}}' "$ctr")
        [[ $status == healthy ]] && {
            seconds "$started" "$(now)"
            return
        }
        [[ $(docker inspect --format '{{.State.Running}}' "$ctr") == true ]] ||
            fail "the container exited before it was healthy"
        sleep 0.5
    done
    fail "not healthy after 120 s (status $status)"
}

if [[ $compose == 1 ]]; then
    step "compose up: server + PostgreSQL (${POSTGRES_IMAGE:-postgres:15})"
    port=${SMOKE_PORT:-18000}
    POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:15} PYTHON_IMAGE=$base OMOTENASHI_IMAGE=$tag \
        OMOTENASHI_HTTP_PORT=$port POSTGRES_PASSWORD=smoke-$$ \
        compose_cmd up -d --no-build > "$log" 2>&1 || {
        cat "$log" >&2
        rm -f "$log"
        fail "compose up failed"
    }
    rm -f "$log"
    ctr=$(compose_cmd ps -q server)
    [[ -n $ctr ]] || fail "compose started no server container"
    base_url=http://127.0.0.1:$port
else
    step "run on a SQLite volume"
    docker volume create "$run_id" > /dev/null
    # a container of the image on the volume: NAME
    run_server() {
        if [[ $network == host ]]; then
            port=${SMOKE_PORT:-18000}
            docker run -d --name "$1" --network host -e OMOTENASHI_PORT="$port" \
                -v "$run_id:/data" "$tag" > /dev/null
            base_url=http://127.0.0.1:$port
        else
            docker run -d --name "$1" -p 127.0.0.1::8000 -v "$run_id:/data" "$tag" > /dev/null
            base_url=http://$(docker port "$1" 8000/tcp | head -n 1)
        fi
    }
    run_server "$run_id"
fi
# the server's own readiness first (Docker runs the first health check one interval, 10 s,
# after the start)
started=$(now)
until ready=$(curl -fsS "$base_url/v1/ready" 2> /dev/null); do
    [[ $(docker inspect --format '{{.State.Running}}' "$ctr") == true ]] ||
        fail "the container exited before it was ready"
    longer_than "$started" 120 && fail "/v1/ready not 200 after 120 s"
    sleep 0.2
done
ready_s=$(seconds "$started" "$(now)")
[[ $ready == *'"status":"ready"'* || $ready == *'"status": "ready"'* ]] ||
    fail "/v1/ready answered $ready"
echo "GET /v1/ready 200 after ${ready_s} s: $ready" >&2
healthy_s=$(wait_healthy)
healthy_s=$(awk -v a="$ready_s" -v b="$healthy_s" 'BEGIN { printf "%.1f", a + b }')
echo "Docker reports it healthy after ${healthy_s} s" >&2

step "event round trip with an ingest key"
key_json=$(docker exec "$ctr" omotenashi keys create --workspace default \
    --scope read --scope ingest --json) || fail "omotenashi keys create failed"
key=$(grep -o 'omk_[A-Za-z0-9_-]*' <<< "$key_json" | head -n 1)
[[ -n $key ]] || fail "no token in: $key_json"
event_id=smoke-$$-$(date +%s)
event='{"event_id":"'$event_id'","customer_id":"smoke-customer","type":"view",'
event+='"item_id":"smoke-item","timestamp":"2025-05-01T10:00:00Z"}'
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    -d "$event" "$base_url/v1/events")
[[ $code == 401 ]] || fail "POST /v1/events without a key answered $code, not 401"
stored=$(curl -fsS -H "X-API-Key: $key" -H 'content-type: application/json' \
    -d "$event" "$base_url/v1/events") || fail "POST /v1/events with the key failed"
echo "POST /v1/events: $stored" >&2
timeline() {
    curl -fsS -H "Authorization: Bearer $key" \
        "$base_url/v1/customers/smoke-customer/timeline?limit=10" || fail "GET timeline failed"
}
[[ $(timeline) == *"$event_id"* ]] || fail "the event is not in the timeline: $(timeline)"
echo "the event is in the customer's timeline" >&2
if [[ $compose == 1 ]]; then
    in_pg=$(compose_cmd exec -T postgres psql -U omotenashi -d omotenashi -tAc \
        "SELECT count(*) FROM events WHERE event_id = '$event_id'") || fail "psql failed"
    [[ $in_pg == 1 ]] || fail "the event is not in PostgreSQL's events table (count '$in_pg')"
    echo "the event is in PostgreSQL's events table" >&2
fi

step "docker stop (SIGTERM)"
started=$(now)
docker stop --time 40 "$ctr" > /dev/null
stop_s=$(seconds "$started" "$(now)")
exit_code=$(docker inspect --format '{{.State.ExitCode}}' "$ctr")
oom=$(docker inspect --format '{{.State.OOMKilled}}' "$ctr")
echo "stopped in ${stop_s} s, exit code $exit_code" >&2
# 0, or 143 (128 + SIGTERM) where the server ends by re-raising the signal it handled; 137
# would mean Docker had to kill it after the grace period
[[ $exit_code == 0 || $exit_code == 143 ]] || fail "exit code $exit_code (OOM killed: $oom)"
# every line of the server's output is one JSON object; a clean shutdown; no error, and no
# worker killed by uvicorn's supervisor
check_logs() {
    local logs not_json
    logs=$(docker logs "$ctr" 2>&1)
    lines=$(grep -c . <<< "$logs" || true)
    not_json=$(grep -vc '^{.*}$' <<< "$logs" || true)
    [[ $not_json == 0 ]] || {
        grep -v '^{.*}$' <<< "$logs" | head -n 5 >&2
        fail "$not_json of $lines log lines are not JSON objects"
    }
    grep -q '"message": "Application shutdown complete."' <<< "$logs" ||
        fail "no 'Application shutdown complete.' in the logs"
    grep -q 'Traceback\|"level": "error"\|"level": "critical"' <<< "$logs" &&
        fail "errors in the logs"
    grep -q 'Child process \[[0-9]*\] died' <<< "$logs" && fail "a worker process died"
    return 0
}
check_logs
echo "$lines log lines, all JSON; shutdown complete" >&2

# a new container on the same volume(s): the event must live in the volume, not in the
# container that received it
step "a new container on the same volume"
if [[ $compose == 1 ]]; then
    POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:15} PYTHON_IMAGE=$base OMOTENASHI_IMAGE=$tag \
        OMOTENASHI_HTTP_PORT=$port POSTGRES_PASSWORD=smoke-$$ \
        compose_cmd up -d --no-build --force-recreate server > "$log" 2>&1 || {
        cat "$log" >&2
        fail "compose up --force-recreate server failed"
    }
    rm -f "$log"
    old_ctr=$ctr
    ctr=$(compose_cmd ps -q server)
    [[ $ctr != "$old_ctr" ]] || fail "compose did not recreate the server container"
else
    docker rm "$ctr" > /dev/null
    ctr=$run_id-2
    run_server "$ctr"
fi
restart_healthy_s=$(wait_healthy)
[[ $(timeline) == *"$event_id"* ]] || fail "the new container does not find the event: $(timeline)"
echo "healthy after ${restart_healthy_s} s; the event is still there" >&2
docker stop --time 40 "$ctr" > /dev/null
exit_code_2=$(docker inspect --format '{{.State.ExitCode}}' "$ctr")
[[ $exit_code_2 == 0 || $exit_code_2 == 143 ]] || fail "second container: exit code $exit_code_2"
check_logs

store=SQLite
[[ $compose == 1 ]] && store="compose, PostgreSQL ${POSTGRES_IMAGE:-postgres:15}"
printf '\nPASS %s on %s (%s)\n' "$tag" "$base" "$store"
printf '  image size       %s MB\n' "$size_mb"
printf '  build time       %s\n' "$build_s"
printf '  time to ready    %s s (GET /v1/ready 200)\n' "$ready_s"
printf '  time to healthy  %s s (Docker health status; new container: %s s)\n' "$healthy_s" \
    "$restart_healthy_s"
printf '  docker stop      %s s, exit code %s (new container: %s)\n' "$stop_s" \
    "$exit_code" "$exit_code_2"
printf '  logs             all JSON (%s lines from the new container)\n' "$lines"
