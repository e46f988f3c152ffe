%% The data-structure workloads on BEAM: word_count (bench/skein/word_count.ska defines it), with
%% an Erlang map from binaries to counts. Prints `checksum <n>`, then `elapsed_ms <ms>` timed
%% inside the VM around the workload (start-up excluded).
%%
%%   erlc wordcount.erl && erl -noshell -s wordcount main word_count -s init stop
-module(wordcount).
-export([main/1]).

-define(MODULUS, 2147483647).
-define(WORDS, 1000000).
-define(VOCABULARY, 50000).

main([Workload]) ->
    T0 = erlang:monotonic_time(microsecond),
    Checksum = run(Workload),
    Us = erlang:monotonic_time(microsecond) - T0,
    io:format("checksum ~p~nelapsed_ms ~.3f~n", [Checksum, Us / 1000]).

run(word_count) ->
    Counts = count(#{}, 1, ?WORDS),
    Squares = maps:fold(fun(_Word, N, Sum) -> Sum + N * N end, 0, Counts),
    Squares + map_size(Counts).

%% count(Map, X, Left): Map with the counts of the next Left words added.
count(Map, _X, 0) -> Map;
count(Map, X0, Left) ->
    X = X0 * 48271 rem ?MODULUS,
    Word = integer_to_binary(X rem ?VOCABULARY),
    case Map of
        #{Word := N} -> count(Map#{Word := N + 1}, X, Left - 1);
        _ -> count(Map#{Word => 1}, X, Left - 1)
    end.
