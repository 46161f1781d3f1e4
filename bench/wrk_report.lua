-- wrk script for bench/load.py: builds the case's requests and prints one
-- machine-readable line with the percentiles and error counts.
-- Arguments (after `--`):  fixed
--                          ids <path-prefix> <max-id>            GET prefix..random(1, max)
--                          login <path> <appid> <code-prefix>     POST a fresh code per request
--                          post <path> <json-body>                POST the same JSON body each time

local mode, a1, a2, a3
local counter = 0
local post_request
local threads_started = 0
-- `tid` stays a global: thread:set() writes the thread's globals, and a local
-- here would shadow it (every thread tid 0, so two threads sent the same codes).

function setup(thread)
  threads_started = threads_started + 1
  thread:set("tid", threads_started)
end

function init(args)
  mode, a1, a2, a3 = args[1] or "fixed", args[2], args[3], args[4]
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  if mode == "ids" then
    return wrk.format("GET", a1 .. math.random(1, tonumber(a2)))
  elseif mode == "login" then
    counter = counter + 1
    local body = string.format('{"appid":"%s","code":"%s-%d-%d"}', a2, a3, tid, counter)
    return wrk.format("POST", a1, {["Content-Type"] = "application/json", ["Host"] = "127.0.0.1"}, body)
  elseif mode == "post" then
    if not post_request then  -- the same bytes every time: built once, with -H's headers (and Host) kept
      local headers = {["Content-Type"] = "application/json"}
      for name, value in pairs(wrk.headers) do headers[name] = value end
      post_request = wrk.format("POST", a1, headers, a2)
    end
    return post_request
  end
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
