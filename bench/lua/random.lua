-- wrk script for scenario d: each request picks one of BENCH_URLS URLs,
-- /obj/1k/set-0 to /obj/1k/set-(BENCH_URLS-1), at random. run.sh warms them
-- all first, so every request should be a hit.
local urls = tonumber(os.getenv("BENCH_URLS") or "10000")
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  -- Each thread has its own Lua state: seed each differently.
  math.randomseed(os.time() * 100 + id)
end

function request()
  return wrk.format("GET", "/obj/1k/set-" .. math.random(0, urls - 1))
end
