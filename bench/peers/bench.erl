%% The message-passing workloads on BEAM. Run: erl -noshell -s bench main WORKLOAD -s init stop
-module(bench).
-export([main/1]).

main([W]) ->
    Workload = list_to_atom(atom_to_list(W)),
    T0 = erlang:monotonic_time(nanosecond),
    R = run(Workload),
    T1 = erlang:monotonic_time(nanosecond),
    io:format("~p~nelapsed_ns~n~p~n", [R, T1 - T0]).

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).

run(fib) -> fib(30);
run(pfib) ->
    Self = self(),
    [spawn(fun() -> Self ! fib(30) end) || _ <- [1, 2]],
    receive A -> receive B -> A + B end end;
run(pingpong) ->
    Pong = spawn(fun Loop() -> receive From -> From ! self(), Loop() end end),
    ping(Pong, 1000000);
run(ring) ->
    Self = self(),
    First = spawn(fun() -> receive Next -> node(Next, Self) end end),
    Last = lists:foldl(fun(_, Next) -> spawn(fun() -> node(Next, Self) end) end, First, lists:seq(1, 999)),
    First ! Last,
    Last ! 1000000,
    receive done -> 1000000 end;
run(spawn) ->
    Self = self(),
    N = 1000000,
    [spawn(fun() -> Self ! x end) || _ <- lists:seq(1, N)],
    collect(N);
run(counting) ->
    Counter = spawn(fun() -> count(0) end),
    [Counter ! inc || _ <- lists:seq(1, 1000000)],
    Counter ! {get, self()},
    receive C -> C end;
run(timeouts) ->
    Self = self(),
    N = 100000,
    [spawn(fun() -> receive _ -> ok after (I rem 100) + 1 -> Self ! x end end) || I <- lists:seq(0, N - 1)],
    collect(N).

ping(_, 0) -> 1000000;
ping(Pong, N) -> Pong ! self(), receive _ -> ping(Pong, N - 1) end.

node(Next, Main) ->
    receive
        0 -> Main ! done, node(Next, Main);
        K -> Next ! K - 1, node(Next, Main)
    end.

count(C) -> receive inc -> count(C + 1); {get, From} -> From ! C end.

collect(0) -> ok;
collect(N) -> receive _ -> collect(N - 1) end.
