-- fib(30), naive recursion.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local t = os.clock()
local r = fib(30)
local e = os.clock() - t
print(r); print("elapsed_ns"); print(math.floor(e * 1e9))
