-- GET /containers/{id} of a random container of the prefilled set.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
dofile(debug.getinfo(1).source:match("@?(.*/)") .. "report.lua")

local containers = tonumber(os.getenv("CONTAINERS") or "1000")
function request()
  return wrk.format("GET", "/containers/" .. common.id(math.random(0, containers - 1)))
end
