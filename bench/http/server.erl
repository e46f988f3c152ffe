%% HTTP/1.1 "hello" server with gen_tcp, one process per connection, keep-alive; for the HTTP
%% benchmark. Usage: erl +S 2 -noshell -s server main PORT
-module(server).
-export([main/1]).

-define(RESPONSE, <<"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, world\n">>).

main([Port]) ->
    {ok, Listen} = gen_tcp:listen(list_to_integer(atom_to_list(Port)),
                                  [binary, {packet, http_bin}, {active, false}, {reuseaddr, true},
                                   {backlog, 1024}, {ip, {127, 0, 0, 1}}]),
    accept(Listen).

accept(Listen) ->
    {ok, Socket} = gen_tcp:accept(Listen),
    Pid = spawn(fun() -> receive go -> serve(Socket) end end),
    ok = gen_tcp:controlling_process(Socket, Pid),
    Pid ! go,
    accept(Listen).

serve(Socket) ->
    case read_request(Socket) of
        ok -> ok = gen_tcp:send(Socket, ?RESPONSE), serve(Socket);
        closed -> gen_tcp:close(Socket)
    end.

read_request(Socket) ->
    case gen_tcp:recv(Socket, 0) of
        {ok, {http_request, _, _, _}} -> headers(Socket);
        _ -> closed
    end.

headers(Socket) ->
    case gen_tcp:recv(Socket, 0) of
        {ok, http_eoh} -> ok;
        {ok, {http_header, _, _, _, _}} -> headers(Socket);
        _ -> closed
    end.
