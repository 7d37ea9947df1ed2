#!/usr/bin/env bash
# Runs a Redis for developing Hoard against: loopback only, no persistence.
#
#   scripts/redis.sh [start]   install redis-server if missing, start it in the background
#   scripts/redis.sh run       the same, in the foreground (Ctrl-C stops it)
#   scripts/redis.sh stop      stop the one started with "start"
#   scripts/redis.sh status    say whether it answers
#
# PORT picks the port (default 6379); its pid file, log and working directory
# are under ${REDIS_DIR:-${TMPDIR:-/tmp}/hoard-redis-$PORT}. Point Hoard at
# redis://127.0.0.1:$PORT/0. The tests do not need this script: they start
# their own servers (internal/store/redistest), given redis-server on PATH.
set -euo pipefail

PORT=${PORT:-6379}
DIR=${REDIS_DIR:-${TMPDIR:-/tmp}/hoard-redis-$PORT}
PIDFILE=$DIR/redis.pid
LOGFILE=$DIR/redis.log

die() { echo "redis.sh: $*" >&2; exit 1; }

install() {
  command -v redis-server >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "redis.sh: installing redis-server with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    die "redis-server is not installed; install it (apt-get install redis-server, brew install redis) or run this as root on Debian/Ubuntu"
  fi
}

answers() {
  [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ]
}

running_pid() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"
}

start() {
  install
  if answers; then
    if pid=$(running_pid); then
      echo "redis.sh: already running on 127.0.0.1:$PORT (pid $pid)"; return
    fi
    die "something else answers on port $PORT (a system redis-server service?); stop it or set PORT"
  fi
  mkdir -p "$DIR"
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$PIDFILE" --logfile "$LOGFILE"
  for _ in $(seq 50); do
    if answers; then
      echo "redis.sh: running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), log $LOGFILE); stop with: PORT=$PORT $0 stop"
      return
    fi
    sleep 0.1
  done
  die "redis-server did not answer on port $PORT; see $LOGFILE"
}

run() {
  install
  answers && die "something already answers on port $PORT; stop it or set PORT"
  mkdir -p "$DIR"
  exec redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
    --pidfile "$PIDFILE"
}

stop() {
  pid=$(running_pid) || { echo "redis.sh: none running on port $PORT (no live pid in $PIDFILE)"; return; }
  kill "$pid"
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; echo "redis.sh: stopped (pid $pid)"; return; }
    sleep 0.1
  done
  die "redis-server (pid $pid) did not stop within 5s"
}

status() {
  if answers; then echo "redis.sh: 127.0.0.1:$PORT answers"; else echo "redis.sh: nothing answers on 127.0.0.1:$PORT"; exit 1; fi
}

case ${1:-start} in
  start) start ;;
  run) run ;;
  stop) stop ;;
  status) status ;;
  *) die "unknown command ${1}; use start, run, stop or status" ;;
esac
