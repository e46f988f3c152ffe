// HTTP/1.1 "hello" server with net/http on 127.0.0.1:PORT (default 8081), the Go peer of
// vm-examples/http_hello.ska in bench/run's http section: keep-alive (net/http's default), one
// goroutine per connection, GOMAXPROCS=2. net/http adds its own Date and Content-Length headers.
//
//	go build -o http_hello bench/peers/http_hello.go && ./http_hello [PORT]
package main

import (
	"log"
	"net/http"
	"os"
	"runtime"
)

func main() {
	runtime.GOMAXPROCS(2)
	port := "8081"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	body := []byte("Hello, world\n")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
