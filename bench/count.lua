-- wrk script shared by bench/demo and bench/run (through bench/lib.sh).
--
--   wrk -t N -c N -s bench/count.lua URL -- count
--   wrk -t N -c N -s bench/count.lua URL -- count SWITCH_FILE SLICE_MS
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
-- "count SWITCH_FILE SLICE_MS": "count", plus a timeline around a moment
-- when a backend changed speed.  Each request's start is also stamped with
-- the wall clock.  By the end of the run SWITCH_FILE holds the wall-clock
-- microsecond of the change (bash writes it from EPOCHREALTIME); done()
-- then reports the percentiles of the requests started before and after
-- it, and the requests each backend received in every SLICE_MS slice of
-- time, slice 0 starting at the change.  A request belongs to the slice in
-- which it started, when the balancer chose its backend.
--
-- "plain": no Lua per request, for throughput runs; only wrk's counters.
--
-- done() prints machine-readable lines:
--   @result <key> <number>
--   @backend <port | "status-NNN"> <responses>
--   @slice <slice> <port | "status-NNN"> <requests started in it>

local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clock_id, bench_timespec_t *tp);
]]

local CLOCK_REALTIME = 0
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec_t")

local function now_us(clock_id)
    ffi.C.clock_gettime(clock_id, clock)
    return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

-- main state: every thread, to collect its counts in done()
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- thread states (globals, so that done() can read them with thread:get)
local prepared
local started = 0
local started_wall = 0
mode = "count"
switch_file = nil -- timeline only
slice_ms = 0
answered = 0      -- responses seen by this thread
latencies = {}    -- microseconds, one per response
counts = {}       -- responses per backend port (or "status-NNN")
starts = {}       -- timeline: wall-clock start of each request, microseconds
keys = {}         -- timeline: backend of each response

function init(args)
    mode = args[1] or "count"
    switch_file = args[2]
    slice_ms = tonumber(args[3] or "250")
    if mode == "plain" then
        request = nil
        response = nil
    else
        prepared = wrk.format()
    end
end

function request()
    started = now_us(CLOCK_MONOTONIC)
    if switch_file then
        started_wall = now_us(CLOCK_REALTIME)
    end
    return prepared
end

function response(status, headers, body)
    answered = answered + 1
    latencies[answered] = math.floor(now_us(CLOCK_MONOTONIC) - started + 0.5)
    local key
    if status == 200 then
        key = body:match("%d+") or "unknown"
    else
        key = "status-" .. status
    end
    counts[key] = (counts[key] or 0) + 1
    if switch_file then
        starts[answered] = started_wall
        keys[answered] = key
    end
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

-- The timeline of all threads (see the top of this file).
local function report_timeline()
    local path = threads[1]:get("switch_file")
    local f = path and io.open(path, "r")
    if not f then
        return
    end
    local switch = tonumber(f:read("*l") or "")
    f:close()
    if not switch then
        return
    end

    local slice_us = threads[1]:get("slice_ms") * 1000
    local before, after, slices = {}, {}, {}
    local last_end = 0  -- the last answer, in microseconds from the switch
    for _, thread in ipairs(threads) do
        local n = thread:get("answered")
        local l = thread:get("latencies")
        local s = thread:get("starts")
        local k = thread:get("keys")
        for i = 1, n do
            local from_switch = s[i] - switch
            local list = from_switch < 0 and before or after
            list[#list + 1] = l[i]
            local slice = math.floor(from_switch / slice_us)
            slices[slice] = slices[slice] or {}
            slices[slice][k[i]] = (slices[slice][k[i]] or 0) + 1
            last_end = math.max(last_end, from_switch + l[i])
        end
    end

    for name, list in pairs({before = before, after = after}) do
        table.sort(list)
        out(name .. "_requests", #list)
        out(name .. "_p50_us", percentile(list, 50))
        out(name .. "_p99_us", percentile(list, 99))
        out(name .. "_max_us", list[#list] or 0)
    end
    out("last_end_us", last_end)
    for slice, backends in pairs(slices) do
        for key, count in pairs(backends) do
            io.write(string.format("@slice %d %s %d\n", slice, key, count))
        end
    end
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
    report_timeline()
end
