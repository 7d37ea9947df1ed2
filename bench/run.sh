#!/usr/bin/env bash
# Measures Hoard against Varnish 7.1 (malloc) and nginx 1.22 (proxy_cache), side
# by side, in one run, and prints one markdown table. See bench/README.md.
#
# usage: bench/run.sh        (as root it installs varnish, nginx and wrk if missing)
#
# Environment (defaults in brackets):
#   ROUNDS [3]      rounds; each runs every scenario on every proxy, and the
#                   table shows the median over rounds
#   DURATION [5s]   length of each wrk run
#   CONNS [50]      wrk connections;   THREADS [2] wrk threads
#   BURST [200]     concurrent clients of scenario f
#   SET_URLS [10000]  distinct URLs of scenario d
#   MEM_OBJECTS [100000]  distinct 1 KiB objects of scenario g (0 skips it)
#   PORT_BASE [19000]  origin port; Varnish +1, nginx +2, Hoard +3 (127.0.0.1)
#   OUT [bench/out]    where results go
#   HOARD_CPUS [1]     hoard serve --cpus (0: every CPU)
#   NGINX_WORKERS [1]  nginx worker_processes (a number or auto)
#   VARNISH_POOLS [2]  Varnish thread_pools
#
# nginx's cache directory goes on tmpfs (a fresh directory under /dev/shm)
# when /dev/shm is a writable tmpfs, and under the work directory otherwise.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
BURST=${BURST:-200}
SET_URLS=${SET_URLS:-10000}
MEM_OBJECTS=${MEM_OBJECTS:-100000}
SCENARIOS=${SCENARIOS:-a b c d e f}
PORT_BASE=${PORT_BASE:-19000}
HOARD_CPUS=${HOARD_CPUS:-1}
NGINX_WORKERS=${NGINX_WORKERS:-1}
VARNISH_POOLS=${VARNISH_POOLS:-2}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
OUT=${OUT:-$here/out}

PROXIES=(hoard varnish nginx)
declare -A PORT=([origin]=$PORT_BASE [varnish]=$((PORT_BASE + 1)) [nginx]=$((PORT_BASE + 2)) [hoard]=$((PORT_BASE + 3)))
declare -A PID=()      # name -> pid of each process this script started and has not stopped
declare -A STARTS=()   # name -> how many times it was started (each start gets a fresh directory)

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $HOARD_CPUS =~ ^[0-9]+$ ]] || die "HOARD_CPUS=$HOARD_CPUS: want a number (0: every CPU)"
[[ $NGINX_WORKERS =~ ^([1-9][0-9]*|auto)$ ]] || die "NGINX_WORKERS=$NGINX_WORKERS: want a positive number or auto"
[[ $VARNISH_POOLS =~ ^[1-9][0-9]*$ ]] || die "VARNISH_POOLS=$VARNISH_POOLS: want a positive number"

# --- tools -------------------------------------------------------------------

ensure_tools() {
  local missing=()
  command -v varnishd >/dev/null || missing+=(varnish)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]})); then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them (apt-get install -y ${missing[*]}) or run as root"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  command -v go >/dev/null || die "go is not on PATH"
}

# --- processes ---------------------------------------------------------------

# start NAME CMD...: runs CMD in the background in a session of its own (so
# that its children can be stopped with it), with output in $work/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >>"$work/$name.log" 2>&1 </dev/null &
  PID[$name]=$!
}

# stop NAME: SIGTERM to the process and its session, up to 15 s to exit, then SIGKILL.
stop() {
  local name=$1 pid=${PID[$1]:-}
  [ -n "$pid" ] || return 0
  unset "PID[$name]"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for ((i = 0; i < 150; i++)); do
    session_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) did not stop in 15 s: killing it"
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# session_alive SID: is any process of session SID still running?
session_alive() {
  ps -e -o sid= -o stat= | awk -v sid="$1" '$1 == sid && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local name
  for name in "${!PID[@]}"; do stop "$name"; done
  if [ -n "${work:-}" ]; then
    # Keep the logs beside the results: they explain a failed run.
    if [ -n "${logdir:-}" ]; then
      cp "$work"/*.log "$logdir"/ 2>/dev/null || true
      for name in "$work"/nginx-*/error.log; do
        [ -e "$name" ] && cp "$name" "$logdir/$(basename "$(dirname "$name")")-error.log"
      done
    fi
    rm -rf "$work"
  fi
  [ -z "${shm:-}" ] || rm -rf "$shm"
  exit "$status"
}

# wait_http NAME URL: waits up to 20 s for URL to answer, while NAME runs.
wait_http() {
  local name=$1 url=$2 i
  for ((i = 0; i < 200; i++)); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || { tail -n 20 "$work/$name.log" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  tail -n 20 "$work/$name.log" >&2
  die "$name did not answer $url within 20 s"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

addr() { echo "127.0.0.1:${PORT[$1]}"; }

# nginx_cache: the cache directory of the nginx started last, on tmpfs if
# there is one (see main).
nginx_cache() {
  if [ -n "$shm" ]; then
    echo "$shm/nginx-${STARTS[nginx]}"
  else
    echo "$work/nginx-${STARTS[nginx]}/cache"
  fi
}

start_proxy() {
  local name=$1
  STARTS[$name]=$((${STARTS[$name]:-0} + 1))
  local dir="$work/$name-${STARTS[$name]}"
  mkdir -p "$dir"
  case $name in
  hoard)
    start hoard "$work/bin/hoard" serve --listen "$(addr hoard)" --origin "http://$(addr origin)" \
      --log-level error --max-memory 2GiB --cpus "$HOARD_CPUS" ;;
  varnish) start varnish "$here/peers/varnish.sh" "$(addr varnish)" "$(addr origin)" "$dir" 1G "$VARNISH_POOLS" ;;
  nginx)
    # On tmpfs the cache of an nginx started before is memory: free it (that
    # nginx is stopped). On disk it stays until the end, as everything in $work.
    if [ -n "$shm" ] && ((${STARTS[nginx]} > 1)); then
      rm -rf "$shm/nginx-$((STARTS[nginx] - 1))"
    fi
    start nginx "$here/peers/nginx.sh" "$(addr nginx)" "$(addr origin)" "$dir" "$NGINX_WORKERS" "$(nginx_cache)" ;;
  esac
  # /_count is no-store at the origin: every proxy passes it through.
  wait_http "$name" "http://$(addr "$name")/_count"
}

# --- measuring ---------------------------------------------------------------

origin_count() { curl -fsS --max-time 5 "http://$(addr origin)/_count"; }

# tree_pids PID: PID and all its descendants.
tree_pids() {
  ps -e -o pid= -o ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      keep[root] = 1
      do { grew = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 } } while (grew)
      for (p in keep) print p
    }'
}

# rss_kib NAME: VmRSS summed over the proxy's processes (nginx master,
# workers and cache helpers; Varnish manager and child), in KiB. Pages shared
# between processes (nginx's keys zone) count once per process that maps them.
rss_kib() {
  local total=0 pid kib
  for pid in $(tree_pids "${PID[$1]}"); do
    kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

# pss_kib NAME: proportional set size summed the same way, which counts a
# shared page once in all.
pss_kib() {
  local total=0 pid kib
  for pid in $(tree_pids "${PID[$1]}"); do
    kib=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

# parse_wrk FILE: prints "rps p50_ms p99_ms max_ms errors" from wrk --latency output.
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
      return "-"
    }
    /^ +Latency +[0-9]/ { max = ms($4) }
    /^ +50% / { p50 = ms($2) }
    /^ +99% / { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    END {
      if (rps == "") { print "- - - - 1"; exit }
      printf "%.0f %.3f %.3f %.3f %d\n", rps, p50, p99, max, errors
    }' "$1"
}

# record SCENARIO ROUND PROXY RPS P50 P99 MAX RSS_KIB ORIGIN ERRORS NOTES:
# one line of results.tsv, ending with the 1-minute load average at the end
# of the run (other work on the machine shows there).
record() {
  local IFS=$'\t'
  echo "$*"$'\t'"$(cut -d' ' -f1 /proc/loadavg)" >>"$results"
}

# run_wrk SCENARIO ROUND PROXY PATH [LUA_SCRIPT]: one wrk run, recorded.
run_wrk() {
  local scenario=$1 round=$2 name=$3 path=$4 script=${5:-}
  local raw="$rawdir/$scenario-r$round-$name.txt" before after
  local args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
  [ -n "$script" ] && args+=(-s "$here/lua/$script")
  before=$(origin_count)
  BENCH_RUN="$token-r$round-$name" BENCH_URLS=$SET_URLS \
    wrk "${args[@]}" "http://$(addr "$name")$path" >"$raw" 2>&1 || true
  after=$(origin_count)
  local rps p50 p99 max errors
  read -r rps p50 p99 max errors < <(parse_wrk "$raw")
  record "$scenario" "$round" "$name" "$rps" "$p50" "$p99" "$max" "$(rss_kib "$name")" \
    $((after - before)) "$errors" ""
  log "  $scenario $name: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, origin +$((after - before))"
}

# run_burst ROUND PROXY: scenario f, BURST clients on one cold slow URL.
run_burst() {
  local round=$1 name=$2 before after line
  before=$(origin_count)
  line=$("$work/bin/burst" --url "http://$(addr "$name")/slow/$token-r$round-$name" --n "$BURST" || true)
  after=$(origin_count)
  echo "$line" >"$rawdir/f-r$round-$name.txt"
  local ok p50 p99 max
  ok=$(kv ok "$line"); p50=$(kv p50_ms "$line"); p99=$(kv p99_ms "$line"); max=$(kv max_ms "$line")
  record f "$round" "$name" - "${p50:--}" "${p99:--}" "${max:--}" "$(rss_kib "$name")" \
    $((after - before)) $((BURST - ${ok:-0})) "${ok:-0}/$BURST answered 200"
  log "  f $name: ${ok:-0}/$BURST ok, max ${max:--} ms, origin +$((after - before))"
}

# kv KEY LINE: the value of KEY=value in a line of key=value pairs.
kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# warm NAME PREFIX N: requests PREFIX0 .. PREFIX(N-1) once through NAME.
warm() {
  "$work/bin/fill" --base "http://$(addr "$1")" --prefix "$2" --n "$3" --c 16 >>"$work/fill.log" \
    || die "warming $1 with $2 failed (see $work/fill.log)"
}

# run_memory PROXY: scenario g on a freshly started proxy.
run_memory() {
  local name=$1
  stop "$name"
  start_proxy "$name"
  sleep 1
  local base before after rss pss notes
  base=$(rss_kib "$name")
  before=$(origin_count)
  warm "$name" "/obj/1k/mem-$token-" "$MEM_OBJECTS"
  after=$(origin_count)
  sleep 1 # same settling time for every proxy before RSS is read
  rss=$(rss_kib "$name")
  pss=$(pss_kib "$name")
  # A second pass finds how many objects were kept: each one evicted goes
  # back to the origin.
  local again
  warm "$name" "/obj/1k/mem-$token-" "$MEM_OBJECTS"
  again=$(( $(origin_count) - after ))
  notes=$(awk -v r="$rss" -v b="$base" -v p="$pss" -v n="$MEM_OBJECTS" -v k=$((MEM_OBJECTS - again)) 'BEGIN {
    printf "RSS/payload %.2f, (RSS-idle)/payload %.2f, PSS %.0f MiB, idle RSS %.0f MiB, kept %d/%d",
      r / n, (r - b) / n, p / 1024, b / 1024, k, n }')
  if [ "$name" = nginx ]; then
    # A failed du costs the note, not the run.
    local cache_kib where="on disk"
    cache_kib=$(du -sk "$(nginx_cache)" | cut -f1) || { log "  du of $(nginx_cache) failed"; cache_kib=; }
    [ -z "$shm" ] || where="in tmpfs (shared memory, not in its RSS)"
    notes+=", cache files $(awk -v k="$cache_kib" 'BEGIN { if (k == "") printf "?"; else printf "%.0f", k / 1024 }') MiB $where"
  fi
  record g 1 "$name" - - - - "$rss" $((after - before)) 0 "$notes"
  log "  g $name: RSS $((rss / 1024)) MiB for $MEM_OBJECTS objects ($notes)"
}

# --- the table ---------------------------------------------------------------

# table: medians over rounds, one row per scenario and proxy, as markdown.
table() {
  sort -t$'\t' -k1,1 -k3,3 "$results" | awk -F'\t' -v proxies="${PROXIES[*]}" \
    -v set_urls="$SET_URLS" -v burst="$BURST" -v mem_objects="$MEM_OBJECTS" '
    function median(list,   a, n, i, j, t) {
      n = split(list, a, " ")
      if (n == 0) return "-"
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function add(key, v) { if (v != "-" && v != "") vals[key] = vals[key] " " v }
    {
      g = $1 SUBSEP $3; seen[g] = 1
      add(g SUBSEP "rps", $4); add(g SUBSEP "p50", $5); add(g SUBSEP "p99", $6); add(g SUBSEP "max", $7)
      add(g SUBSEP "rss", $8); add(g SUBSEP "origin", $9)
      errors[g] += $10; if ($11 != "") notes[g] = $11
    }
    function count(n) { return n >= 1000 && n % 1000 == 0 ? n / 1000 "k" : n }
    function fmt(v, d) { return v == "-" ? "-" : sprintf("%." d "f", v) }
    END {
      name["a"] = "a. hot 1 KiB"; name["b"] = "b. hot 16 KiB"; name["c"] = "c. hot 1 MiB"
      name["d"] = "d. " count(set_urls) " URLs, 1 KiB"; name["e"] = "e. cold misses, 1 KiB"
      name["f"] = "f. " burst " clients, one slow URL"; name["g"] = "g. " count(mem_objects) " x 1 KiB stored"
      np = split(proxies, p, " ")
      print "| scenario | proxy | req/s | vs Varnish | p50 ms | p99 ms | max ms | RSS MiB | origin reqs | errors | notes |"
      print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
      ns = split("a b c d e f g", s, " ")
      for (i = 1; i <= ns; i++) {
        vr = median(vals[s[i] SUBSEP "varnish" SUBSEP "rps"])
        for (j = 1; j <= np; j++) {
          g = s[i] SUBSEP p[j]
          if (!(g in seen)) continue
          rps = median(vals[g SUBSEP "rps"])
          ratio = (rps == "-" || vr == "-" || vr == 0) ? "-" : sprintf("%.2fx", rps / vr)
          rss = median(vals[g SUBSEP "rss"]); rss = rss == "-" ? "-" : sprintf("%.0f", rss / 1024)
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", name[s[i]], p[j],
            fmt(rps, 0), ratio, fmt(median(vals[g SUBSEP "p50"]), 2), fmt(median(vals[g SUBSEP "p99"]), 2),
            fmt(median(vals[g SUBSEP "max"]), 1), rss, fmt(median(vals[g SUBSEP "origin"]), 0), errors[g], notes[g]
        }
      }
    }'
}

# --- main --------------------------------------------------------------------

main() {
  ensure_tools
  local name
  for name in origin "${PROXIES[@]}"; do
    port_free "${PORT[$name]}" || die "port ${PORT[$name]} ($name) is in use: set PORT_BASE"
  done

  work=$(mktemp -d /tmp/hoard-bench.XXXXXX)
  chmod 755 "$work" # nginx workers run as nobody and must reach their cache below it
  shm=
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # nginx's cache files go on tmpfs where there is one: on ext4, a run
  # creates and deletes so many files that nginx ends up spending most of
  # its time in the kernel's inode allocator (see bench/README.md).
  if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
    shm=$(mktemp -d /dev/shm/hoard-bench-nginx.XXXXXX)
    chmod 755 "$shm"
  fi
  token=$(date +%s)-$RANDOM$RANDOM # makes every cold URL of this run new
  local stamp
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$OUT/$stamp"
  results="$OUT/$stamp/results.tsv"
  rawdir="$OUT/$stamp/raw"
  logdir="$OUT/$stamp/logs"
  mkdir -p "$rawdir" "$logdir"
  : >"$results"

  log "building hoard, origin, burst and fill into $work/bin"
  (cd "$repo" && go build -o "$work/bin/hoard" . && go build -o "$work/bin/" ./bench/origin ./bench/burst ./bench/fill)

  start origin "$work/bin/origin" --listen "$(addr origin)"
  wait_http origin "http://$(addr origin)/_count"
  for name in "${PROXIES[@]}"; do start_proxy "$name"; done

  log "warming: hot URLs and $SET_URLS URLs of scenario d on each proxy"
  local path
  for name in "${PROXIES[@]}"; do
    for path in /obj/1k/hot /obj/16k/hot /obj/1m/hot; do
      curl -fsS -o /dev/null --max-time 10 "http://$(addr "$name")$path" || die "$name: GET $path failed"
    done
    warm "$name" /obj/1k/set- "$SET_URLS"
  done

  # Rounds rotate the order of the proxies, so that none always runs first
  # (on a warmer or cooler machine) within a scenario.
  local round i k order
  for ((round = 1; round <= ROUNDS; round++)); do
    order=()
    for ((i = 0; i < ${#PROXIES[@]}; i++)); do
      order+=("${PROXIES[(i + round - 1) % ${#PROXIES[@]}]}")
    done
    log "round $round/$ROUNDS (order: ${order[*]})"
    for k in $SCENARIOS; do
      for name in "${order[@]}"; do
        case $k in
        a) run_wrk a "$round" "$name" /obj/1k/hot ;;
        b) run_wrk b "$round" "$name" /obj/16k/hot ;;
        c) run_wrk c "$round" "$name" /obj/1m/hot ;;
        d) run_wrk d "$round" "$name" / random.lua ;;
        e) run_wrk e "$round" "$name" / cold.lua ;;
        f) run_burst "$round" "$name" ;;
        esac
      done
    done
  done

  if ((MEM_OBJECTS > 0)); then
    log "memory: $MEM_OBJECTS distinct 1 KiB objects into each proxy, freshly started"
    for name in "${PROXIES[@]}"; do run_memory "$name"; done
  fi

  local md="$OUT/$stamp/table.md"
  {
    echo "Hoard $(cd "$repo" && git describe --always --dirty 2>/dev/null || echo '(no git)'), $(varnishd -V 2>&1 | head -n 1 | cut -d' ' -f2 | tr -d '()'), $(nginx -v 2>&1 | cut -d' ' -f3);" \
      "hoard --cpus $HOARD_CPUS, nginx worker_processes $NGINX_WORKERS, varnish thread_pools $VARNISH_POOLS;" \
      "nginx cache $([ -n "$shm" ] && echo 'on tmpfs' || echo 'on disk')"
    echo "$(nproc) cores, $(date -u +%Y-%m-%d), wrk -t$THREADS -c$CONNS -d$DURATION, median of $ROUNDS rounds;" \
      "1-minute load average after each run: $(cut -f12 "$results" | sort -n | awk '{ v[NR] = $1 } END { printf "min %s, median %s, max %s", v[1], v[int((NR + 1) / 2)], v[NR] }')"
    echo
    table
  } >"$md"
  cp "$md" "$OUT/latest.md"
  echo
  cat "$md"
  echo
  log "results in $OUT/$stamp (raw wrk output in raw/, every run in results.tsv)"
}

main "$@"
