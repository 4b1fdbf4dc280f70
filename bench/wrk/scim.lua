-- SCIM traffic for wrk, one scenario a run:
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/scim.lua URL -- SCENARIO IDS TOKEN
-- SCENARIO is get, username, externalid, group (displayName eq of one of the
-- 100 seeded groups), co (userName co "er<n>"), q (the Web API's
-- api/users/search?q=user<n>), patch or post; IDS is the file of
-- user ids written by `load -seed-db ... -ids`, user0's first; TOKEN an
-- admin token; an optional fourth argument tells apart wrk processes run at
-- once. Ids and userNames are picked at random; post creates unique
-- userNames (that argument, thread number, start time and a counter).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local scenario, token
local ids = {}
local counter = 0
local run

function init(args)
  scenario, token = args[1], args[3]
  for line in io.lines(args[2]) do
    ids[#ids + 1] = line
  end
  run = (args[4] or "") .. tostring(os.time())
  -- Each wrk process and thread its own sequence: wrk processes started
  -- together (one per replica) would otherwise write the same users at the
  -- same moment, and measure their conflicts.
  local salt = 0
  for c in (args[4] or ""):gmatch(".") do
    salt = (salt * 31 + c:byte()) % 1000003
  end
  math.randomseed(os.time() * 1000 + tid + salt * 64)
end

local patchOp = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
  '"Operations":[{"op":"replace","path":"active","value":%s}]}'
local newUser = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],' ..
  '"userName":"wrk-%s-%d-%d","name":{"givenName":"W","familyName":"R"},"active":true}'

function request()
  local headers = { ["Authorization"] = "Bearer " .. token }
  local i = math.random(#ids)
  if scenario == "get" then
    return wrk.format("GET", "/api/scim/v2/Users/" .. ids[i], headers)
  elseif scenario == "username" then
    return wrk.format("GET", "/api/scim/v2/Users?filter=userName%20eq%20%22user" .. (i - 1) .. "%22", headers)
  elseif scenario == "externalid" then
    return wrk.format("GET", "/api/scim/v2/Users?filter=externalId%20eq%20%22ext" .. (i - 1) .. "%22", headers)
  elseif scenario == "group" then
    return wrk.format("GET", "/api/scim/v2/Groups?filter=displayName%20eq%20%22group" .. math.random(0, 99) .. "%22", headers)
  elseif scenario == "co" then
    return wrk.format("GET", "/api/scim/v2/Users?filter=userName%20co%20%22er" .. (i - 1) .. "%22", headers)
  elseif scenario == "q" then
    return wrk.format("GET", "/api/users/search?ps=50&q=user" .. (i - 1), headers)
  end
  headers["Content-Type"] = "application/scim+json"
  counter = counter + 1
  if scenario == "patch" then
    return wrk.format("PATCH", "/api/scim/v2/Users/" .. ids[i], headers, string.format(patchOp, tostring(counter % 2 == 0)))
  elseif scenario == "post" then
    return wrk.format("POST", "/api/scim/v2/Users", headers, string.format(newUser, run, tid, counter))
  end
  error("unknown scenario " .. tostring(scenario))
end
