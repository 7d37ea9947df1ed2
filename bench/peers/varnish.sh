#!/usr/bin/env bash
# Starts Varnish 7.1 (Debian's varnish package) with malloc storage in the
# foreground, in front of the benchmark origin.
#
# usage: varnish.sh LISTEN_ADDR ORIGIN_HOST:PORT WORK_DIR [MALLOC_SIZE [THREAD_POOLS]]
#   e.g. varnish.sh 127.0.0.1:19001 127.0.0.1:19000 /tmp/bench/varnish 1G 2
#
# The parameters, for a 2-core machine under 50 to 200 connections:
#   -s malloc,SIZE        objects in memory (1G holds every scenario of run.sh)
#   thread_pools=2        one pool per core (Varnish's advice); THREAD_POOLS,
#                         else $VARNISH_POOLS, else 2
#   thread_pool_min=100   200 threads ready in all (200 divided among the
#                         pools, rounded up), so that no connection of the
#                         200-client burst waits for a thread to be started
#   thread_pool_max=1000  room to grow, far below what 2 cores could use
#   default_ttl=0         nothing without explicit freshness is cached, as
#                         RFC 9111 and Hoard want (every origin answer here
#                         has max-age=3600, so this only keeps the peers alike)
#   -j none -T none       no privilege-separation jail and no management port:
#                         a throw-away instance on loopback
# No access log is written: varnishd logs into shared memory only, and no
# varnishncsa is started.
set -euo pipefail
listen=${1:?listen address}; origin=${2:?origin host:port}; dir=${3:?work dir}; size=${4:-1G}
pools=${5:-${VARNISH_POOLS:-2}}
[[ $pools =~ ^[1-9][0-9]*$ ]] || { echo "varnish.sh: THREAD_POOLS $pools: want a positive number" >&2; exit 2; }
pool_min=$(((200 + pools - 1) / pools))
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
sed -e "s/@ORIGIN_HOST@/${origin%:*}/" -e "s/@ORIGIN_PORT@/${origin##*:}/" \
  "$here/varnish.vcl" > "$dir/default.vcl"
exec varnishd -F -j none -T none -n "$dir/instance" -a "$listen" -f "$dir/default.vcl" \
  -s "malloc,$size" \
  -p thread_pools="$pools" -p thread_pool_min="$pool_min" -p thread_pool_max=1000 \
  -p default_ttl=0 -p default_grace=0
