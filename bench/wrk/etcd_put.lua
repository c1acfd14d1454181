-- etcd's JSON gateway: POST /v3/kv/put of one key per container of the set
-- (CONTAINERS, default 1000), as post.lua posts one snapshot per container.
-- The key is the container's ID read as base64 (64 hex digits are valid
-- base64 of 48 bytes); VALUE is the base64 of a record the store holds.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
dofile(debug.getinfo(1).source:match("@?(.*/)") .. "report.lua")

common.number_threads()

local containers = tonumber(os.getenv("CONTAINERS") or "1000")
local value = os.getenv("VALUE") or error("VALUE: the base64 of the value to put")
local count = 0
function request()
  count = count + 1
  local n = (count * 7919 + tid * 104729) % containers
  return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"},
    string.format([[{"key":"%s","value":"%s"}]], common.id(n), value))
end
