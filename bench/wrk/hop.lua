-- wrk script for every hop benchmark; the mode comes after `--` on the wrk command line:
--
--   wrk ... -s hop.lua URL -- codes FILE          GET /{code}, codes drawn from FILE (one a line)
--   wrk ... -s hop.lua URL -- derived N [HOT]     GET /{code} for a random id in 1..N, or in HOT
--                                                 ids spread evenly over 1..N (see bench/gen.py)
--   wrk ... -s hop.lua URL -- create USERS        POST /urls for a random user in 1..USERS
--   wrk ... -s hop.lua URL -- list PAGES          GET /urls?page=P&per_page=50, P in 1..PAGES
--
-- When the run ends it prints one line `BENCH {json}` with the request count, duration, exact
-- latency percentiles and error counts, which bench/run reads. There is no per-response
-- callback: it would slow wrk down, and hop's own metrics count the statuses instead.

local ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
local FIRST = 62 ^ 5

local threads = {}
local counter = 0
local request_fn

-- Same function as bench/gen.py: base 62 of 62^5 + id (exact in doubles).
local function code(id)
  local value = FIRST + id
  local chars = {}
  for i = 6, 1, -1 do
    local digit = value % 62
    chars[i] = ALPHABET:sub(digit + 1, digit + 1)
    value = (value - digit) / 62
  end
  return table.concat(chars)
end

local function read_codes(path)
  local codes = {}
  for line in io.lines(path) do
    if #line > 0 then
      codes[#codes + 1] = "/" .. line
    end
  end
  assert(#codes > 0, "no codes in " .. path)
  return codes
end

local modes = {}

function modes.codes(path)
  local paths = read_codes(path)
  local n = #paths
  return function()
    return wrk.format("GET", paths[math.random(n)])
  end
end

function modes.derived(links, hot)
  links = tonumber(links)
  hot = tonumber(hot or links)
  return function()
    local k = math.random(hot) - 1
    return wrk.format("GET", "/" .. code(1 + math.floor(k * links / hot)))
  end
end

function modes.create(users)
  users = tonumber(users)
  local headers = { ["Content-Type"] = "application/json" }
  return function()
    counter = counter + 1
    local body = string.format(
      '{"user_id": %d, "original_url": "https://example.com/wrk/%d/%d/%d", "title": "wrk"}',
      math.random(users), wrk.thread_id, os.time(), counter)
    return wrk.format("POST", "/urls", headers, body)
  end
end

function modes.list(pages)
  pages = tonumber(pages)
  return function()
    return wrk.format("GET", "/urls?page=" .. math.random(pages) .. "&per_page=50")
  end
end

function setup(thread)
  thread:set("thread_number", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  wrk.thread_id = thread_number or 0
  math.randomseed(os.time() * 1000 + wrk.thread_id)
  local mode = modes[args[1]]
  assert(mode, "unknown mode " .. tostring(args[1]))
  request_fn = mode(args[2], args[3])
end

function request()
  return request_fn()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
