-- Sum 1 .. 100,000,000 with a while loop (the same shape as the Skein program).
local t = os.clock()
local s, i = 0, 1
while i <= 100000000 do s = s + i; i = i + 1 end
local e = os.clock() - t
print(s); print("elapsed_ns"); print(math.floor(e * 1e9))
