// HTTP/1.1 "hello" server with net/http, for the HTTP benchmark. Usage: server PORT
package main

import (
	"net/http"
	"os"
	"runtime"
)

func main() {
	runtime.GOMAXPROCS(2)
	body := []byte("Hello, world\n")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	http.ListenAndServe("127.0.0.1:"+os.Args[1], nil)
}
