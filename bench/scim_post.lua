-- wrk script: POST a new SCIM user per request (unique userName per run, thread and counter).
local counter = 0
-- A nonce per wrk process: math.random starts from the same seed in every process, so
-- repeated runs against one store would otherwise post the same userNames again (409).
local urandom = io.open("/dev/urandom", "rb")
local bytes = urandom:read(4)
urandom:close()
local nonce = string.format("%02x%02x%02x%02x", bytes:byte(1, 4))
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local name = string.format("bench-%s-%d-%d@example.com", nonce, tid, counter)
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","name":{"givenName":"Bench","familyName":"User"},"emails":[{"value":"' .. name ..
    '","type":"work","primary":true}],"active":true}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/scim+json", ["Authorization"] = wrk.headers["Authorization"]}, body)
end
