-- One wrk script for every scenario. Arguments after `--`:
--   METHOD PATH TOKENS_FILE SLUGS_FILE BODY PAIRS_FILE THREADS
-- PATH may hold "{slug}", replaced per request by a random line of SLUGS_FILE; with a TOKENS_FILE
-- ("-" for none) each request carries "Authorization: Token <a random line of it>"; BODY ("-" for
-- none) is sent as JSON. With a PAIRS_FILE ("-" for none) of "<line of TOKENS_FILE> <slug>" lines,
-- each request takes the next pair instead, so none repeats: THREADS threads each walk their own
-- part of the file. done() prints one machine-readable line for bench/load.py.

local method, template, body = "GET", "/", nil
local tokens, slugs, pairs = {}, {}, {}
local next_pair = 1
local thread_counter = 0

local function read_lines(path)
  local lines = {}
  if path == nil or path == "-" then
    return lines
  end
  for line in io.lines(path) do
    if #line > 0 then
      lines[#lines + 1] = line
    end
  end
  return lines
end

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_number", thread_counter)
end

function init(args)
  method = args[1] or "GET"
  template = args[2] or "/"
  tokens = read_lines(args[3])
  slugs = read_lines(args[4])
  if args[5] ~= nil and args[5] ~= "-" then
    body = args[5]
  end
  for _, line in ipairs(read_lines(args[6])) do
    local user, slug = string.match(line, "^(%d+) (.+)$")
    pairs[#pairs + 1] = { token = tokens[tonumber(user)], slug = slug }
  end
  local threads = tonumber(args[7] or "1")
  next_pair = (thread_number - 1) * math.floor(#pairs / threads) + 1
  math.randomseed(os.time() * 1000 + (thread_number or 0))
end

function request()
  local path, token = template, nil
  if #pairs > 0 then
    local pair = pairs[next_pair]
    next_pair = next_pair % #pairs + 1
    path = string.gsub(template, "{slug}", function() return pair.slug end)
    token = pair.token
  elseif #slugs > 0 then
    local slug = slugs[math.random(#slugs)]
    path = string.gsub(template, "{slug}", function() return slug end)
  end
  if token == nil and #tokens > 0 then
    token = tokens[math.random(#tokens)]
  end
  local headers = {}
  if token ~= nil then
    headers["Authorization"] = "Token " .. token
  end
  if body ~= nil then
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d "
      .. "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean
  ))
end
