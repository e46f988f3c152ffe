%% The benchmark workloads on BEAM (Erlang/OTP 25): one module, the workload chosen by argument.
%%
%%   erlc bench.erl && erl +P 2000000 -noshell -s bench main WORKLOAD -s init stop
%%
%% WORKLOAD is one of fib pfib loop pingpong ring spawn counting timeouts hold. Each run prints a
%% result line, then `elapsed_ms <ms>` timed inside the VM around the workload (start-up
%% excluded); hold also prints `bytes_per_process <n>`.
-module(bench).
-export([main/1]).

main([Workload]) ->
    {Result, Us, Extra} = case run(Workload) of
                              {R, T} -> {R, T, []};
                              Three -> Three
                          end,
    io:format("~p~nelapsed_ms ~.3f~n", [Result, Us / 1000]),
    [io:format("~s ~p~n", [Key, Value]) || {Key, Value} <- Extra],
    ok.

%% timed(Fun) -> {Fun(), microseconds it took}.
timed(Fun) ->
    T0 = erlang:monotonic_time(microsecond),
    R = Fun(),
    {R, erlang:monotonic_time(microsecond) - T0}.

%% fib: naive recursive fib(30) in one process.
run(fib) -> timed(fun() -> fib(30) end);

%% pfib: 2 processes each compute fib(30).
run(pfib) ->
    timed(fun() ->
        Self = self(),
        spawn(fun() -> Self ! {fib, fib(30)} end),
        spawn(fun() -> Self ! {fib, fib(30)} end),
        receive {fib, A} -> receive {fib, B} -> A + B end end
    end);

%% loop: sum 1 .. 100,000,000 in a loop.
run(loop) -> timed(fun() -> loop(1, 100000000, 0) end);

%% pingpong: 2 processes, 1,000,000 round trips.
run(pingpong) ->
    timed(fun() ->
        Pong = spawn(fun pong/0),
        ping(Pong, 1000000)
    end);

%% ring: 1,000 processes in a ring; a token makes 1,000,000 hops (building the ring is not timed).
run(ring) ->
    Self = self(),
    First = spawn(fun() -> receive {next, Next} -> node(Next, Self) end end),
    Last = chain(999, First, Self),
    First ! {next, Last},
    timed(fun() ->
        Last ! 1000000,
        receive {done, Hops} -> Hops end
    end);

%% spawn: 1,000,000 processes, each sends one message to the parent, which collects all.
%% The parent keeps its message queue off its heap: with the default (on_heap) every garbage
%% collection of the spawning parent scans the whole queue, which makes the run quadratic
%% (87 s instead of ~2 s for 1,000,000 here).
run(spawn) ->
    N = 1000000,
    process_flag(message_queue_data, off_heap),
    timed(fun() ->
        spawn_senders(N, self()),
        collect(N)
    end);

%% counting: one producer sends 1,000,000 messages to a counter, then asks for the count.
run(counting) ->
    timed(fun() ->
        Counter = spawn(fun() -> count(0) end),
        send_incs(Counter, 1000000),
        Counter ! {get, self()},
        receive {count, C} -> C end
    end);

%% timeouts: 100,000 processes each `receive after (I rem 100) + 1`; the parent waits for all.
%% (Parent's queue off its heap, as for spawn.)
run(timeouts) ->
    N = 100000,
    process_flag(message_queue_data, off_heap),
    timed(fun() ->
        spawn_waiters(0, N, self()),
        collect(N)
    end);

%% hold: 100,000 processes blocked in receive; bytes per process from erlang:memory(total).
run(hold) ->
    N = 100000,
    erlang:garbage_collect(),
    Before = erlang:memory(total),
    {_, Us} = timed(fun() -> spawn_idle(N) end),
    timer:sleep(300),                             % let every process reach its receive
    After = erlang:memory(total),
    {N, Us, [{bytes_per_process, (After - Before) div N}]};

run(Other) ->
    io:format(standard_error, "unknown workload ~p~n", [Other]),
    halt(2).

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).

loop(I, N, Sum) when I > N -> Sum;
loop(I, N, Sum) -> loop(I + 1, N, Sum + I).

pong() -> receive From -> From ! pong, pong() end.

ping(_, 0) -> 1000000;
ping(Pong, N) -> Pong ! self(), receive pong -> ping(Pong, N - 1) end.

chain(0, Next, _) -> Next;
chain(K, Next, Main) -> chain(K - 1, spawn(fun() -> node(Next, Main) end), Main).

node(Next, Main) ->
    receive
        0 -> Main ! {done, 1000000}, node(Next, Main);
        K -> Next ! K - 1, node(Next, Main)
    end.

spawn_senders(0, _) -> ok;
spawn_senders(K, Parent) -> spawn(fun() -> Parent ! x end), spawn_senders(K - 1, Parent).

%% collect(N): receives N messages, returns how many it received.
collect(N) -> collect(N, 0).
collect(0, Got) -> Got;
collect(K, Got) -> receive _ -> collect(K - 1, Got + 1) end.

count(C) -> receive inc -> count(C + 1); {get, From} -> From ! {count, C} end.

send_incs(_, 0) -> ok;
send_incs(Counter, K) -> Counter ! inc, send_incs(Counter, K - 1).

spawn_waiters(N, N, _) -> ok;
spawn_waiters(I, N, Parent) ->
    Ms = (I rem 100) + 1,
    spawn(fun() -> receive after Ms -> Parent ! x end end),
    spawn_waiters(I + 1, N, Parent).

spawn_idle(0) -> ok;
spawn_idle(K) -> spawn(fun() -> receive stop -> ok end end), spawn_idle(K - 1).
