-- POST arrays of BATCH (default 50) snapshots, as an agent's resync posts its
-- host: the set (CONTAINERS, default 1000) is cut into hosts of BATCH
-- containers, and each request posts one host's containers, with one
-- observation time that no other request uses. A host's containers are
-- spread over the set (n = host + i * hosts), as random IDs are over the key
-- space, rather than neighbours in the containers' index. Each thread walks
-- the hosts from its own starting point.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
dofile(debug.getinfo(1).source:match("@?(.*/)") .. "report.lua")

common.number_threads()

local containers = tonumber(os.getenv("CONTAINERS") or "1000")
local batch = tonumber(os.getenv("BATCH") or "50")
local hosts = math.floor(containers / batch)
local count = 0
function request()
  count = count + 1
  -- Times in 2027 never meet the prefill's (2026); tid keeps threads apart.
  local ns = tid * 100000000 + count
  local observed = string.format("2027-01-01T00:%02d:%02d.%09dZ",
    math.floor(ns / 60e9) % 60, math.floor(ns / 1e9) % 60, ns % 1000000000)
  local host = (count + tid * 7919) % hosts
  local items = {}
  for i = 0, batch - 1 do
    items[#items + 1] = common.snapshot(host + i * hosts, observed)
  end
  return wrk.format("POST", "/containers", {["Content-Type"] = "application/json"},
    "[" .. table.concat(items, ",") .. "]")
end
