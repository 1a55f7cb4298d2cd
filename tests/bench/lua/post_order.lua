-- POST an order for an existing user (args[1]: its id); the same body every time, so wrk builds
-- the request once (no per-request Lua).
init = function(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.format(
    '{"user_id":%d,"items":[{"sku":"BENCH-1","quantity":2,"unit_price_cents":1250}]}', tonumber(args[1]))
end
