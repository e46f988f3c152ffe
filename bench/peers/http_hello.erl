%% HTTP/1.1 "hello" server with gen_tcp on 127.0.0.1:PORT (default 8082), the BEAM peer of
%% vm-examples/http_hello.ska in bench/run's http section: one process per connection,
%% keep-alive, the same response bytes. Like Skein's read_until, each request is read up to the
%% empty line that ends its head (a request body is not expected).
%%
%%   erlc http_hello.erl && erl +S 2 -noshell -s http_hello main [PORT]
-module(http_hello).
-export([main/0, main/1]).

-define(RESPONSE, <<"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                    "Connection: keep-alive\r\n\r\nHello, world\n">>).

main() -> main(['8082']).

%% main([Port]): listens, then returns (so that erl stops on SIGTERM) and leaves the socket to an
%% acceptor process.
main([Port]) ->
    {ok, Listen} = gen_tcp:listen(list_to_integer(atom_to_list(Port)),
                                  [binary, {active, false}, {reuseaddr, true}, {backlog, 1024},
                                   {ip, {127, 0, 0, 1}}]),
    Acceptor = spawn(fun() -> receive go -> accept(Listen) end end),
    ok = gen_tcp:controlling_process(Listen, Acceptor),
    Acceptor ! go,
    ok.

accept(Listen) ->
    {ok, Socket} = gen_tcp:accept(Listen),
    Pid = spawn(fun() -> receive go -> serve(Socket, <<>>) end end),
    ok = gen_tcp:controlling_process(Socket, Pid),
    Pid ! go,
    accept(Listen).

%% serve(Socket, Buffered): answers each request head in turn until the client closes.
serve(Socket, Buffered) ->
    case binary:match(Buffered, <<"\r\n\r\n">>) of
        {At, 4} ->
            case gen_tcp:send(Socket, ?RESPONSE) of
                ok -> serve(Socket, binary:part(Buffered, At + 4, byte_size(Buffered) - At - 4));
                _ -> gen_tcp:close(Socket)
            end;
        nomatch ->
            case gen_tcp:recv(Socket, 0) of
                {ok, More} -> serve(Socket, <<Buffered/binary, More/binary>>);
                _ -> gen_tcp:close(Socket)
            end
    end.
