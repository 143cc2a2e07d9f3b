-- wrk script: signed ~28 KB pull_request deliveries, each for its own PR (so each creates
-- a job), with a unique X-GitHub-Delivery. usage: wrk ... -s webhook.lua URL -- PREFIX NTHREADS
-- where PREFIX.tpl / PREFIX.idx come from gen_bodies.py. Each thread keeps every
-- NTHREADS-th delivery, so no two threads send the same one. `id` is a global that
-- setup() sets in each thread's own Lua state.
local threads = {}
local counter, nthreads = 0, 1
local pieces, marks = {}, {}
local numbers, shas, sigs = {}, {}, {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(args[1] .. ".tpl", "rb"))
   local tpl = f:read("*a")
   f:close()
   local pos = 1
   for start, mark in tpl:gmatch("()([\1\2])") do
      pieces[#pieces + 1] = tpl:sub(pos, start - 1)
      marks[#marks + 1] = mark
      pos = start + 1
   end
   pieces[#pieces + 1] = tpl:sub(pos)
   nthreads = tonumber(args[2] or "1")
   local k = 0
   for line in io.lines(args[1] .. ".idx") do
      if k % nthreads == id then
         local n, sha, sig = line:match("^(%S+) (%S+) (%S+)$")
         numbers[#numbers + 1], shas[#shas + 1], sigs[#sigs + 1] = n, sha, sig
      end
      k = k + 1
   end
   statuses = {}
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["X-GitHub-Event"] = "pull_request"
   seed = tostring(os.time())
end

function request()
   counter = counter + 1
   local i = (counter - 1) % #sigs + 1
   if counter == #sigs + 1 then io.stderr:write("webhook.lua: deliveries exhausted, repeating\n") end
   local parts = {}
   for j = 1, #marks do
      parts[#parts + 1] = pieces[j]
      parts[#parts + 1] = marks[j] == "\1" and numbers[i] or shas[i]
   end
   parts[#parts + 1] = pieces[#pieces]
   wrk.headers["X-Hub-Signature-256"] = sigs[i]
   wrk.headers["X-GitHub-Delivery"] = seed .. "-" .. id .. "-" .. counter
   return wrk.format("POST", "/webhooks/github", nil, table.concat(parts))
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
