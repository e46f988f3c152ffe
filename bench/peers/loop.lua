-- loop: sum 1 .. 100,000,000 in a while loop (the same shape as bench/skein/loop.ska).
-- Run: lua5.4 loop.lua. Prints the sum, then elapsed_ms (os.clock(): CPU time, see fib.lua).
local t0 = os.clock()
local sum, i = 0, 1
while i <= 100000000 do
  sum = sum + i
  i = i + 1
end
local elapsed = os.clock() - t0
print(sum)
print(string.format("elapsed_ms %.3f", elapsed * 1000))
