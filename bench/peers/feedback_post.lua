-- wrk script of bench/http_feedback.sh: POSTs a new feedback item (unique id per request,
-- per thread) on response r1, with the admin token from the TOKEN environment variable.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  token = os.getenv("TOKEN") or ""
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"id":"f%d-%d","response_id":"r1","variant":"stars","rating":%d,"created_at":"2026-11-20T10:05:00Z"}',
    tid, counter, counter % 5 + 1)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end
