-- POST one new snapshot per request: each request a container of the set
-- (CONTAINERS, default 1000) and an observation time no other request uses.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
dofile(debug.getinfo(1).source:match("@?(.*/)") .. "report.lua")

common.number_threads()

local containers = tonumber(os.getenv("CONTAINERS") or "1000")
local path = os.getenv("POST_PATH") or "/containers"
local count = 0
function request()
  count = count + 1
  local n = (count * 7919 + tid * 104729) % containers
  -- Times in 2027 never meet the prefill's (2026); tid keeps threads apart.
  local ns = tid * 100000000 + count
  local observed = string.format("2027-01-01T00:%02d:%02d.%09dZ",
    math.floor(ns / 60e9) % 60, math.floor(ns / 1e9) % 60, ns % 1000000000)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"},
    common.snapshot(n, observed))
end
