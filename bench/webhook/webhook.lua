-- wrk script: signed pull_request deliveries, a unique X-GitHub-Delivery per request.
-- usage: wrk ... -s webhook.lua URL -- BODIES_FILE
local threads = {}
local counter, id, nthreads = 0, 0, 1
local sigs, bodies = {}, {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(args[1], "rb"))
   local data = f:read("*a")
   f:close()
   for rec in data:gmatch("([^\30]+)\30") do
      local sig, body = rec:match("^([^\31]+)\31(.*)$")
      sigs[#sigs + 1] = sig
      bodies[#bodies + 1] = body
   end
   nthreads = tonumber(args[2] or "1")
   statuses = {}
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["X-GitHub-Event"] = "pull_request"
   seed = tostring(os.time())
end

function request()
   counter = counter + 1
   -- threads interleave over the bodies so that no two send the same one
   local i = ((counter - 1) * nthreads + id) % #bodies + 1
   wrk.headers["X-Hub-Signature-256"] = sigs[i]
   wrk.headers["X-GitHub-Delivery"] = seed .. "-" .. id .. "-" .. counter
   return wrk.format("POST", "/webhooks/github", nil, bodies[i])
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local parts = {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      for code, n in pairs(s) do parts[code] = (parts[code] or 0) + n end
   end
   for code, n in pairs(parts) do io.write(string.format("status %d: %d\n", code, n)) end
   io.write(string.format("p50_us %d\np99_us %d\nrequests %d\n", latency:percentile(50),
                          latency:percentile(99), summary.requests))
end
