-- wrk script shared by bench/demo and bench/run (through bench/lib.sh).
--
--   wrk -t N -c N -s bench/count.lua URL -- count
--   wrk -t 1 -c 32 -s bench/count.lua URL -- plain
--
-- "count": each backend answers with its own port; the script counts the
-- responses per backend and times every request itself.  It needs exactly
-- one connection per thread (-t equal to -c), so that the response a thread
-- sees is the answer to the request it last sent.
--
-- Why time requests here instead of latency:percentile() in done()?  wrk
-- corrects its histogram for coordinated omission after the run: for every
-- sample above twice the mean it adds synthetic samples at value - mean,
-- value - 2 * mean, ...  With one 100 ms backend among 5 ms ones that turns
-- each slow response into ~20 samples, which is exactly the tail being
-- measured.  The script reports both: p50_us/p99_us (per request, exact)
-- and wrk_p50_us/wrk_p99_us (wrk's corrected histogram).
--
-- "plain": no Lua per request, for throughput runs; only wrk's counters.
--
-- done() prints machine-readable lines:
--   @result <key> <number>
--   @backend <port | "status-NNN"> <responses>

local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clock_id, bench_timespec_t *tp);
]]

local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec_t")

local function now_us()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
    return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

-- main state: every thread, to collect its counts in done()
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- thread states
local prepared
local started = 0
mode = "count"
answered = 0      -- responses seen by this thread
latencies = {}    -- microseconds, one per response
counts = {}       -- responses per backend port (or "status-NNN")

function init(args)
    mode = args[1] or "count"
    if mode == "plain" then
        request = nil
        response = nil
    else
        prepared = wrk.format()
    end
end

function request()
    started = now_us()
    return prepared
end

function response(status, headers, body)
    answered = answered + 1
    latencies[answered] = math.floor(now_us() - started + 0.5)
    local key
    if status == 200 then
        key = body:match("%d+") or "unknown"
    else
        key = "status-" .. status
    end
    counts[key] = (counts[key] or 0) + 1
end

local function out(key, value)
    io.write(string.format("@result %s %.0f\n", key, value))
end

-- nearest rank: the smallest sample with at least p% of samples at or below
local function percentile(sorted, p)
    local n = #sorted
    if n == 0 then
        return 0
    end
    local rank = math.ceil(p / 100 * n)
    return sorted[math.max(1, math.min(n, rank))]
end

function done(summary, latency, requests)
    local e = summary.errors
    out("requests", summary.requests)
    out("duration_us", summary.duration)
    io.write(string.format("@result rps %.1f\n",
                           summary.requests / (summary.duration / 1e6)))
    out("errors_connect", e.connect)
    out("errors_read", e.read)
    out("errors_write", e.write)
    out("errors_status", e.status)
    out("errors_timeout", e.timeout)
    out("wrk_p50_us", latency:percentile(50))
    out("wrk_p99_us", latency:percentile(99))

    local all, total, backends = {}, 0, {}
    for _, thread in ipairs(threads) do
        if thread:get("mode") == "count" then
            local n = thread:get("answered")
            local l = thread:get("latencies")
            for i = 1, n do
                total = total + 1
                all[total] = l[i]
            end
            for key, count in pairs(thread:get("counts")) do
                backends[key] = (backends[key] or 0) + count
            end
        end
    end
    if total == 0 then
        return
    end

    table.sort(all)
    local sum = 0
    for i = 1, total do
        sum = sum + all[i]
    end
    out("timed", total)
    out("mean_us", sum / total)
    out("p50_us", percentile(all, 50))
    out("p90_us", percentile(all, 90))
    out("p99_us", percentile(all, 99))
    out("p999_us", percentile(all, 99.9))
    out("max_us", all[total])
    for key, count in pairs(backends) do
        io.write(string.format("@backend %s %d\n", key, count))
    end
end
