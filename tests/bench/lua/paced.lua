-- A fixed request rate instead of a closed loop: each connection waits args[1] ms after every
-- response before sending the next request (wrk 4 has no -R; the bench calibrates the delay).
local pause = 0
init = function(args)
  pause = tonumber(args[1]) or 0
end
delay = function()
  return pause
end
