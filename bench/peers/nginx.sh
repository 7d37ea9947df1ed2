#!/usr/bin/env bash
# Starts nginx 1.22 (Debian's nginx package) with proxy_cache in the
# foreground, in front of the benchmark origin. See nginx.conf for the tuning.
#
# usage: nginx.sh LISTEN_ADDR ORIGIN_HOST:PORT WORK_DIR [WORKERS [CACHE_DIR]]
#   e.g. nginx.sh 127.0.0.1:19002 127.0.0.1:19000 /tmp/bench/nginx 1 /dev/shm/nginx-cache
#
# WORKERS is worker_processes: a number or auto (one per core). Without the
# argument it is $NGINX_WORKERS, or auto if that is unset. The cache files
# live in CACHE_DIR, by default WORK_DIR/cache. Workers run as nobody when
# nginx is started as root, so both directories are opened to them.
set -euo pipefail
listen=${1:?listen address}; origin=${2:?origin host:port}; dir=${3:?work dir}
workers=${4:-${NGINX_WORKERS:-auto}}; cache=${5:-$dir/cache}
[[ $workers =~ ^([1-9][0-9]*|auto)$ ]] || { echo "nginx.sh: WORKERS $workers: want a positive number or auto" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# Raise the file limit as far as allowed, and keep at most half of it (and
# 10,000) for open_file_cache: the rest is for connections and temp files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
open_files=$((nofile / 2 < 10000 ? nofile / 2 : 10000))
mkdir -p "$cache" "$dir/tmp"
sed -e "s|@DIR@|$dir|g" -e "s|@CACHE@|$cache|g" -e "s|@LISTEN@|$listen|g" -e "s|@ORIGIN@|$origin|g" \
  -e "s|@WORKERS@|$workers|g" -e "s|@OPEN_FILES@|$open_files|g" "$here/nginx.conf" > "$dir/nginx.conf"
chmod -R a+rwX "$dir" "$cache"
exec nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log"
