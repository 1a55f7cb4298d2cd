-- POST a new user per request; emails are unique per run (args[1] is the run's label).
local prefix, n = "bench", 0
init = function(args)
  prefix = args[1] or prefix
end
request = function()
  n = n + 1
  local body = string.format('{"email":"%s-%d@example.com","name":"Bench User"}', prefix, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
