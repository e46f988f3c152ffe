%% The Savina workloads (Imam & Sarkar, 2014) on BEAM (Erlang/OTP 25): one module, the workload
%% chosen by argument. Each follows the algorithm, sizes and generator of bench/skein/W.ska, whose
%% header comment defines it, so that all implementations print the same checksum.
%%
%%   erlc savina.erl && erl +P 2000000 -noshell -s savina main WORKLOAD -s init stop
%%
%% WORKLOAD is one of chameneos big banking fjthroughput fjcreation threadring sieve prodcons
%% philosophers barber concdict nqueens. Each run prints `checksum <n>`, then `elapsed_ms <ms>`
%% timed inside the VM around the workload (start-up excluded).
-module(savina).
-export([main/1]).

-define(MODULUS, 2147483647).

main([Workload]) ->
    T0 = erlang:monotonic_time(microsecond),
    Checksum = run(Workload),
    Us = erlang:monotonic_time(microsecond) - T0,
    io:format("checksum ~p~nelapsed_ms ~.3f~n", [Checksum, Us / 1000]).

%% The Park-Miller generator every workload draws from.
next(X) -> X * 48271 rem ?MODULUS.

%% collect_sum(N): the sum of the next N messages, which are integers.
collect_sum(N) -> collect_sum(N, 0).
collect_sum(0, Sum) -> Sum;
collect_sum(K, Sum) -> receive V -> collect_sum(K - 1, Sum + V) end.

%% spawn_indexed(N, Fun): [Fun(0), ..., Fun(N - 1)] in processes; their pids in index order.
spawn_indexed(N, Fun) -> [spawn(fun() -> Fun(I) end) || I <- lists:seq(0, N - 1)].

%% ---- chameneos ----------------------------------------------------------------------------------

run(chameneos) ->
    N = 100, Meetings = 200000, Main = self(),
    Mall = spawn(fun() -> mall(Meetings, none, 0, 0, N) end),
    spawn_indexed(N, fun(I) -> chameneo(Mall, I rem 3, Main, 0) end),
    collect_sum(N);

%% ---- big ------------------------------------------------------------------------------------------

run(big) ->
    N = 120, Pings = 10000, Main = self(),
    Actors = spawn_indexed(N, fun(I) -> receive {actors, All} -> big_ping(list_to_tuple(All), N, Main, I + 1, 0, Pings) end end),
    [A ! {actors, Actors} || A <- Actors],
    Sum = collect_sum(N),
    [A ! exit || A <- Actors],
    Sum;

%% ---- banking ------------------------------------------------------------------------------------

run(banking) ->
    N = 1000, Transactions = 50000, Teller = self(),
    Accounts = list_to_tuple(spawn_indexed(N, fun(I) -> account(I, Teller, 1000000) end)),
    banking_orders(Accounts, N, Transactions, 1),
    [receive ok -> ok end || _ <- lists:seq(1, Transactions)],
    [A ! stop || A <- tuple_to_list(Accounts)],
    lists:sum([receive {I, Balance} -> (I + 1) * Balance end || _ <- lists:seq(1, N)]);

%% ---- fork-join throughput -------------------------------------------------------------------------

run(fjthroughput) ->
    N = 60, Messages = 10000, Main = self(),
    Workers = spawn_indexed(N, fun(_) -> fj_worker(Main, 0, 0, Messages) end),
    fj_send(Workers, Workers, 0, Messages * N),
    collect_sum(N);

%% ---- fork-join creation ---------------------------------------------------------------------------

run(fjcreation) ->
    N = 200000, Main = self(),
    process_flag(message_queue_data, off_heap),      % as bench:run(spawn): a long queue
    fj_create(0, N, Main),
    collect_sum(N);

%% ---- thread ring ------------------------------------------------------------------------------------

run(threadring) ->
    N = 100, Hops = 1000003, Main = self(),
    Nodes = spawn_indexed(N, fun(I) -> receive Next -> ring_node(I, Main, Next) end end),
    [Node ! Next || {Node, Next} <- lists:zip(Nodes, tl(Nodes) ++ [hd(Nodes)])],
    hd(Nodes) ! Hops,
    receive Index -> Hops + Index end;

%% ---- concurrent sieve --------------------------------------------------------------------------------

run(sieve) ->
    Limit = 50000, Main = self(),
    First = spawn(fun() -> sieve_filter([3], 1, none, Main) end),
    sieve_numbers(First, 5, Limit),
    First ! {1, 2},                                     % the prime 2, which no filter sees
    receive {Count, Sum} -> Count + Sum end;

%% ---- producer-consumer ------------------------------------------------------------------------------

run(prodcons) ->
    Producers = 40, Consumers = 40, Buffer = 50, Items = 2500, Main = self(),
    Capacity = Buffer + Producers,
    Manager = spawn(fun() ->
        manager(#{ring => erlang:make_tuple(Capacity, 0), head => 0, count => 0, capacity => Capacity,
                  buffer => Buffer, idle => [], waiting => [], done => 0,
                  producers => Producers, consumers => Consumers})
    end),
    spawn_indexed(Consumers, fun(_) -> consumer(Manager, Main, 0) end),
    spawn_indexed(Producers, fun(I) -> producer(Manager, I + 1, Items) end),
    collect_sum(Consumers);

%% ---- dining philosophers ------------------------------------------------------------------------------

run(philosophers) ->
    N = 20, Rounds = 10000, Main = self(),
    Arbitrator = spawn(fun() -> arbitrator(Main, list_to_tuple(lists:duplicate(N, false)), N, 0, 0) end),
    spawn_indexed(N, fun(I) -> philosopher(Arbitrator, I, Rounds) end),
    receive Meals -> Meals end;

%% ---- sleeping barber ------------------------------------------------------------------------------------

run(barber) ->
    Customers = 10000, Main = self(),
    Room = spawn(fun() ->
        Self = self(),
        Barber = spawn(fun() -> barber(Self, Main, 2, 1) end),
        room(Barber, 1000, erlang:make_tuple(1000, none), 0, 0, true)
    end),
    W = barber_arrivals(Room, Main, 0, Customers, 1, 1),
    Served = collect_sum(Customers),
    Room ! exit,
    receive BarberW -> Served + BarberW + W end;

%% ---- concurrent dictionary ---------------------------------------------------------------------------------

run(concdict) ->
    Workers = 20, Operations = 10000, Main = self(),
    Empty = array:new(40009, {fixed, true}),
    Dictionary = spawn(fun() -> dictionary(Empty, Empty) end),
    spawn_indexed(Workers, fun(W) -> dict_worker(Dictionary, Main, W, Workers, W + 1, Operations, 0) end),
    Sum = collect_sum(Workers),
    Dictionary ! exit,
    Sum;

%% ---- N-queens -----------------------------------------------------------------------------------------------

run(nqueens) ->
    Queens = 11, Workers = 8, Main = self(),
    Jobs = [{C0, C1} || C0 <- lists:seq(0, Queens - 1), C1 <- lists:seq(0, Queens - 1), abs(C0 - C1) > 1],
    spawn_indexed(Workers, fun(_) -> queens_worker(Main, Queens, 0) end),
    queens_master(Jobs, Workers, 0);

run(Other) ->
    io:format(standard_error, "unknown workload ~p~n", [Other]),
    halt(2).

%% ---- chameneos ---------------------------------------------------------------------------------------------

chameneo(Mall, Colour, Main, Meetings) ->
    Mall ! {meet, self(), Colour},
    receive
        stop -> Main ! Meetings;
        Other -> chameneo(Mall, complement(Colour, Other), Main, Meetings + 1)
    end.

complement(Colour, Colour) -> Colour;
complement(A, B) -> 3 - A - B.

%% mall(MeetingsLeft, Waiting, WaitingColour, Stopped, Creatures)
mall(Left, Waiting, WaitingColour, Stopped, N) ->
    receive
        {meet, Pid, _} when Left == 0 ->
            Pid ! stop,
            if Stopped + 1 < N -> mall(Left, Waiting, WaitingColour, Stopped + 1, N); true -> ok end;
        {meet, Pid, Colour} when Waiting == none -> mall(Left, Pid, Colour, Stopped, N);
        {meet, Pid, Colour} ->
            Waiting ! Colour,
            Pid ! WaitingColour,
            mall(Left - 1, none, 0, Stopped, N)
    end.

%% ---- big -----------------------------------------------------------------------------------------------------

big_ping(Actors, N, Main, X0, Sum, Left) ->
    X = next(X0),
    Target = X rem N,
    element(Target + 1, Actors) ! self(),
    big_loop(Actors, N, Main, X, Sum + Target, Left).

big_loop(Actors, N, Main, X, Sum, Left) ->
    receive
        pong when Left > 1 -> big_ping(Actors, N, Main, X, Sum, Left - 1);
        pong -> Main ! Sum, big_loop(Actors, N, Main, X, Sum, 0);
        exit -> ok;
        From -> From ! pong, big_loop(Actors, N, Main, X, Sum, Left)
    end.

%% ---- banking ------------------------------------------------------------------------------------------------

banking_orders(_, _, 0, _) -> ok;
banking_orders(Accounts, N, K, X0) ->
    X1 = next(X0), X2 = next(X1), X3 = next(X2),
    Source = X1 rem N,
    Destination = case X2 rem N of Source -> (Source + 1) rem N; D -> D end,
    element(Source + 1, Accounts) ! {credit, element(Destination + 1, Accounts), X3 rem 1000 + 1},
    banking_orders(Accounts, N, K - 1, X3).

account(I, Teller, Balance) ->
    receive
        stop -> Teller ! {I, Balance};
        {credit, Destination, Amount} ->
            Destination ! {d, debit, self(), Amount},
            account_wait(I, Teller, Balance - Amount);
        {d, debit, From, Amount} ->
            From ! {d, reply},
            account(I, Teller, Balance + Amount)
    end.

%% account_wait: the selective receive; credit orders stay queued until the reply comes.
account_wait(I, Teller, Balance) ->
    receive
        {d, reply} -> Teller ! ok, account(I, Teller, Balance);
        {d, debit, From, Amount} -> From ! {d, reply}, account_wait(I, Teller, Balance + Amount)
    end.

%% ---- fork-join ---------------------------------------------------------------------------------------------

fj_worker(Main, Acc, Seen, Messages) when Seen == Messages -> Main ! Acc;
fj_worker(Main, Acc, Seen, Messages) ->
    receive V -> fj_worker(Main, (Acc * 31 + V) rem 1000003, Seen + 1, Messages) end.

fj_send(_, _, Total, Total) -> ok;
fj_send([], All, V, Total) -> fj_send(All, All, V, Total);
fj_send([W | Rest], All, V, Total) -> W ! V, fj_send(Rest, All, V + 1, Total).

fj_create(N, N, _) -> ok;
fj_create(I, N, Main) ->
    Pid = spawn(fun() -> receive V -> Main ! V * 7919 rem 10007 end end),
    Pid ! I,
    fj_create(I + 1, N, Main).

%% ---- thread ring --------------------------------------------------------------------------------------------

ring_node(I, Main, Next) ->
    receive
        T when T > 0 -> Next ! T - 1, ring_node(I, Main, Next);
        0 -> Main ! I, Next ! -1;
        _ -> Next ! -1
    end.

%% ---- sieve --------------------------------------------------------------------------------------------------

sieve_numbers(First, N, Limit) when N > Limit -> First;
sieve_numbers(First, N, Limit) -> First ! N, sieve_numbers(First, N + 2, Limit).

%% sieve_filter(Primes in the order found, how many, next filter, Main)
sieve_filter(Primes, Count, Next, Main) ->
    receive
        {C, S} ->
            Done = {C + Count, S + lists:sum(Primes)},
            case Next of none -> Main ! Done; _ -> Next ! Done end;
        V ->
            case lists:any(fun(P) -> V rem P == 0 end, Primes) of
                true -> sieve_filter(Primes, Count, Next, Main);
                false when Count < 50 -> sieve_filter(Primes ++ [V], Count + 1, Next, Main);
                false when Next == none ->
                    sieve_filter(Primes, Count, spawn(fun() -> sieve_filter([V], 1, none, Main) end), Main);
                false -> Next ! V, sieve_filter(Primes, Count, Next, Main)
            end
    end.
%% ---- producer-consumer --------------------------------------------------------------------------------------

producer(Manager, _, 0) -> Manager ! pdone;
producer(Manager, X0, Left) ->
    X = next(X0),
    Manager ! {data, self(), X rem 1000},
    receive produce -> producer(Manager, X, Left - 1) end.

consumer(Manager, Main, Sum) ->
    Manager ! {avail, self()},
    receive
        exit -> Main ! Sum;
        Item -> consumer(Manager, Main, Sum + Item)
    end.

manager(S = #{idle := Idle, waiting := Waiting, count := Count, head := Head, ring := Ring, capacity := Cap}) ->
    receive
        {data, Producer, Item} when Idle /= [] ->
            hd(Idle) ! Item,
            Producer ! produce,
            manager(S#{idle := tl(Idle)});
        {data, Producer, Item} ->
            Ring2 = setelement((Head + Count) rem Cap + 1, Ring, Item),
            case Count + 1 >= maps:get(buffer, S) of
                true -> manager(S#{ring := Ring2, count := Count + 1, waiting := [Producer | Waiting]});
                false -> Producer ! produce, manager(S#{ring := Ring2, count := Count + 1})
            end;
        {avail, Consumer} when Count > 0 ->
            Consumer ! element(Head + 1, Ring),
            S2 = S#{head := (Head + 1) rem Cap, count := Count - 1},
            case Waiting of
                [] -> manager(S2);
                [P | Rest] -> P ! produce, manager(S2#{waiting := Rest})
            end;
        {avail, Consumer} -> manager_check(S#{idle := [Consumer | Idle]});
        pdone -> manager_check(S#{done := maps:get(done, S) + 1})
    end.

%% manager_check: ends the run when every producer is done, the buffer empty and all consumers idle.
manager_check(S = #{done := Done, producers := P, count := 0, idle := Idle, consumers := C})
  when Done == P, length(Idle) == C ->
    [Consumer ! exit || Consumer <- Idle],
    S;
manager_check(S) -> manager(S).

%% ---- dining philosophers ------------------------------------------------------------------------------------

philosopher(Arbitrator, _, 0) -> Arbitrator ! exit;
philosopher(Arbitrator, I, Left) ->
    Arbitrator ! {hungry, self(), I},
    receive
        denied -> philosopher(Arbitrator, I, Left);
        eat -> Arbitrator ! {done, I}, philosopher(Arbitrator, I, Left - 1)
    end.

arbitrator(Main, Forks, N, Meals, Gone) ->
    receive
        exit when Gone + 1 == N -> Main ! Meals;
        exit -> arbitrator(Main, Forks, N, Meals, Gone + 1);
        {done, I} ->
            F = setelement(I + 1, Forks, false),
            arbitrator(Main, setelement((I + 1) rem N + 1, F, false), N, Meals, Gone);
        {hungry, Pid, I} ->
            R = (I + 1) rem N,
            case element(I + 1, Forks) orelse element(R + 1, Forks) of
                true -> Pid ! denied, arbitrator(Main, Forks, N, Meals, Gone);
                false ->
                    F = setelement(R + 1, setelement(I + 1, Forks, true), true),
                    Pid ! eat,
                    arbitrator(Main, F, N, Meals + 1, Gone)
            end
    end.

%% ---- sleeping barber ------------------------------------------------------------------------------------------

%% busy(Steps, W): W after that many busy steps.
busy(Steps, W) when Steps =< 0 -> W;
busy(Steps, W) -> busy(Steps - 1, (W * 31 + 7) rem 1000003).

%% barber_arrivals: lets the customers in; returns the selector's last W.
barber_arrivals(_, _, N, N, _, W) -> W;
barber_arrivals(Room, Main, Id, N, X0, W0) ->
    X = next(X0),
    W = busy(X rem 1000, W0),
    spawn(fun() -> customer(Room, Main, Id) end),
    barber_arrivals(Room, Main, Id + 1, N, X, W).

customer(Room, Main, Id) ->
    Room ! {enter, self(), Id},
    customer_wait(Room, Main, Id).

customer_wait(Room, Main, Id) ->
    receive
        full -> timer:sleep(1), customer(Room, Main, Id);     % every seat taken: back 1 ms later
        wait -> customer_wait(Room, Main, Id);
        done -> Main ! Id + 1
    end.

barber(Room, Main, X0, W0) ->
    receive
        exit -> Main ! W0;
        {enter, Customer, _} ->
            X = next(X0),
            W = busy(X rem 100, W0),
            Customer ! done,
            Room ! next,
            barber(Room, Main, X, W)
    end.

%% room(Barber, Seats, Ring, Head, Seated, BarberSleeps)
room(Barber, Seats, Ring, Head, Seated, Sleeps) ->
    receive
        exit -> Barber ! exit;
        next when Seated == 0 -> room(Barber, Seats, Ring, Head, 0, true);
        next ->
            Barber ! element(Head + 1, Ring),
            room(Barber, Seats, Ring, (Head + 1) rem Seats, Seated - 1, false);
        Enter when Sleeps -> Barber ! Enter, room(Barber, Seats, Ring, Head, Seated, false);
        {enter, Customer, _} when Seated >= Seats ->
            Customer ! full, room(Barber, Seats, Ring, Head, Seated, Sleeps);
        Enter = {enter, Customer, _} ->
            Customer ! wait,
            Ring2 = setelement((Head + Seated) rem Seats + 1, Ring, Enter),
            room(Barber, Seats, Ring2, Head, Seated + 1, Sleeps)
    end.

%% ---- concurrent dictionary -----------------------------------------------------------------------------------

dict_worker(_, Main, _, _, _, 0, Sum) -> Main ! Sum;
dict_worker(Dictionary, Main, W, Workers, X0, Left, Sum) ->
    X1 = next(X0), X2 = next(X1),
    Key = (X1 rem 1000) * Workers + W,
    case X2 rem 100 < 10 of
        true ->
            Dictionary ! {write, self(), Key, X2 rem 100000},
            receive ok -> dict_worker(Dictionary, Main, W, Workers, X2, Left - 1, Sum) end;
        false ->
            Dictionary ! {read, self(), Key},
            receive V -> dict_worker(Dictionary, Main, W, Workers, X2, Left - 1, Sum + V) end
    end.

%% dictionary(Keys, Values): open addressing in two fixed-size arrays (the `array` module: BEAM
%% has no mutable array; a map or ETS would be the idiomatic choice, but every version uses the
%% same flat table).
dictionary(Keys, Values) ->
    receive
        exit -> ok;
        {read, From, Key} ->
            Slot = dict_probe(Keys, Key, Key * 7919 rem array:size(Keys)),
            From ! case array:get(Slot, Values) of undefined -> 0; V -> V end,
            dictionary(Keys, Values);
        {write, From, Key, Value} ->
            Slot = dict_probe(Keys, Key, Key * 7919 rem array:size(Keys)),
            From ! ok,
            dictionary(array:set(Slot, Key, Keys), array:set(Slot, Value, Values))
    end.

dict_probe(Keys, Key, Slot) ->
    case array:get(Slot, Keys) of
        undefined -> Slot;
        Key -> Slot;
        _ -> dict_probe(Keys, Key, (Slot + 1) rem array:size(Keys))
    end.

%% ---- N-queens ---------------------------------------------------------------------------------------------------

queens_master(Jobs, Workers, Solutions) ->
    receive
        {Worker, Found} ->
            case Jobs of
                [Job | Rest] -> Worker ! Job, queens_master(Rest, Workers, Solutions + Found);
                [] when Workers == 1 -> Worker ! exit, Solutions + Found;
                [] -> Worker ! exit, queens_master([], Workers - 1, Solutions + Found)
            end
    end.

queens_worker(Main, Queens, Found) ->
    Main ! {self(), Found},
    receive
        exit -> ok;
        {C0, C1} -> queens_worker(Main, Queens, queens_solve(Queens, [C1, C0], 2))
    end.

%% queens_solve(Queens, Columns of the rows placed (last row first), Row)
queens_solve(Queens, _, Queens) -> 1;
queens_solve(Queens, Columns, Row) ->
    lists:sum([queens_solve(Queens, [C | Columns], Row + 1) || C <- lists:seq(0, Queens - 1), queens_safe(Columns, C, 1)]).

queens_safe([], _, _) -> true;
queens_safe([C | _], C, _) -> false;
queens_safe([P | Rest], C, Distance) ->
    abs(P - C) /= Distance andalso queens_safe(Rest, C, Distance + 1).
