%% The link and monitor workloads on BEAM (Erlang/OTP 25), written as Erlang programs use links
%% and monitors: bench/skein/spawnlink.ska and moncall.ska define them, and both print the same
%% checksum.
%%
%%   erlc links.erl && erl +P 2000000 -noshell -s links main WORKLOAD [N] -s init stop
%%
%% WORKLOAD is spawnlink or moncall; N is the number of children or calls (default 1,000,000).
%% Each run prints `checksum <n>`, then `elapsed_ms <ms>` timed inside the VM around the workload
%% (start-up excluded).
-module(links).
-export([main/1]).

main([Workload]) -> main([Workload, '1000000']);
main([Workload, Size]) ->
    {Checksum, Us} = run(Workload, list_to_integer(atom_to_list(Size))),
    io:format("checksum ~p~nelapsed_ms ~.3f~n", [Checksum, Us / 1000]).

%% timed(Fun) -> {Fun(), microseconds it took}.
timed(Fun) ->
    T0 = erlang:monotonic_time(microsecond),
    R = Fun(),
    {R, erlang:monotonic_time(microsecond) - T0}.

%% spawnlink: trap exits, spawn_link N children; child I exits with reason I at once. Collect
%% every {'EXIT', Pid, I}; the checksum is the sum of the reasons. The queue of up to N exit
%% messages is kept off the heap, as in bench:run(spawn), or each collection of the spawning
%% process would scan it.
run(spawnlink, N) ->
    process_flag(trap_exit, true),
    process_flag(message_queue_data, off_heap),
    timed(fun() ->
        spawn_children(1, N),
        collect_exits(N, 0)
    end);

%% moncall: N calls to a server, each made as gen_server:call makes it (monitor, send, receive
%% the reply or the 'DOWN', demonitor with flush); the checksum is the sum of the replies.
run(moncall, N) ->
    Server = spawn(fun server/0),
    timed(fun() -> calls(Server, 1, N, 0) end);

run(Other, _) ->
    io:format(standard_error, "unknown workload ~p~n", [Other]),
    halt(2).

spawn_children(I, N) when I > N -> ok;
spawn_children(I, N) -> spawn_link(fun() -> exit(I) end), spawn_children(I + 1, N).

collect_exits(0, Sum) -> Sum;
collect_exits(K, Sum) -> receive {'EXIT', _, Reason} -> collect_exits(K - 1, Sum + Reason) end.

calls(_, K, N, Sum) when K > N -> Sum;
calls(Server, K, N, Sum) -> calls(Server, K + 1, N, Sum + call(Server, K)).

%% call(Server, Request) -> the reply; exits with the server's reason if it dies first. The
%% compiler sees that the reference is new and only messages carrying it can match, so the
%% receive skips the messages queued before the monitor (recv_mark).
call(Server, Request) ->
    Ref = erlang:monitor(process, Server),
    Server ! {Ref, self(), Request},
    receive
        {Ref, Reply} ->
            erlang:demonitor(Ref, [flush]),
            Reply;
        {'DOWN', Ref, process, _, Reason} ->
            exit(Reason)
    end.

server() ->
    receive {Ref, From, K} -> From ! {Ref, 2 * K}, server() end.
