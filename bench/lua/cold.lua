-- wrk script for scenario e: every request is a URL no proxy has seen, so
-- every request is a miss. BENCH_RUN (set by run.sh) is unique to the run,
-- the thread id to the thread and the counter to the request.
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local prefix
local counter = 0

function init(args)
  prefix = "/nocache/1k/" .. run .. "-t" .. id .. "-"
end

function request()
  counter = counter + 1
  return wrk.format("GET", prefix .. counter)
end
