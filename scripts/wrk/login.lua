-- wrk script of the login benchmarks (scripts/bench-serve, bench-compare,
-- bench-galera): POST {"code":...} to the URL's path (serve's
-- /wx/auth/login_by_weixin, benchbase's /login-wx), a fresh code per request.
--
--   wrk ... -s scripts/wrk/login.lua URL -- [PREFIX] [FIRST] [USERS] [PROC]
--
-- mockwx makes the user of a code from the part before its first dot:
-- PREFIX followed by a number in FIRST..FIRST+USERS-1 (defaults u, 0,
-- 1000), so most logins are of returning users. PROC tells wrk processes
-- started in the same second apart (in the seed and in the code).
--
-- Each wrk thread runs this chunk in its own Lua state; setup (in the
-- main state) then sets the global tid of each, so that no two threads
-- make the same code. A local tid would stay 0 in every thread
-- (thread:set writes the global): both threads then sent the same codes
-- and half the "logins" were answered 40163.
local counter = 0
local threads = 0
local prefix, first, users, proc = "u", 0, 1000, 0
tid = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args)
	prefix = args[1] or prefix
	first = tonumber(args[2] or first)
	users = tonumber(args[3] or users)
	proc = tonumber(args[4] or proc)
	math.randomseed(os.time() + tid * 7919 + proc * 104729)
end
request = function()
	counter = counter + 1
	local code = string.format("%s%d.%d.%d.%d.%d", prefix, first + counter % users, proc, tid, counter, math.random(1, 1000000000))
	return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"code":"' .. code .. '"}')
end
