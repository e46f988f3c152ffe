-- fib: naive recursive fib(30). Run: lua5.4 fib.lua
-- Prints fib(30), then elapsed_ms. Lua 5.4 has no wall clock finer than a second, so the time is
-- os.clock() (CPU time), the same as wall time for this single-threaded loop.
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local t0 = os.clock()
local result = fib(30)
local elapsed = os.clock() - t0
print(result)
print(string.format("elapsed_ms %.3f", elapsed * 1000))
