// The message-passing workloads on Go (goroutines and channels). Run: bench WORKLOAD
package main

import (
	"fmt"
	"os"
	"time"
)

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func run(w string) int {
	switch w {
	case "fib":
		return fib(30)
	case "pfib":
		c := make(chan int)
		for i := 0; i < 2; i++ {
			go func() { c <- fib(30) }()
		}
		return <-c + <-c
	case "pingpong":
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		for i := 0; i < 1000000; i++ {
			ping <- i
			<-pong
		}
		return 1000000
	case "ring":
		const n = 1000
		chans := make([]chan int, n)
		for i := range chans {
			chans[i] = make(chan int, 1)
		}
		done := make(chan bool)
		for i := 0; i < n; i++ {
			go func(in, out chan int) {
				for k := range in {
					if k == 0 {
						done <- true
					} else {
						out <- k - 1
					}
				}
			}(chans[i], chans[(i+1)%n])
		}
		chans[0] <- 1000000
		<-done
		return 1000000
	case "spawn":
		const n = 1000000
		c := make(chan int, 1024)
		for i := 0; i < n; i++ {
			go func() { c <- 1 }()
		}
		for i := 0; i < n; i++ {
			<-c
		}
		return n
	case "counting":
		inc := make(chan int, 1024)
		get := make(chan chan int)
		go func() {
			count := 0
			for {
				select {
				case <-inc:
					count++
				case reply := <-get:
					for len(inc) > 0 {
						<-inc
						count++
					}
					reply <- count
					return
				}
			}
		}()
		for i := 0; i < 1000000; i++ {
			inc <- 1
		}
		reply := make(chan int)
		get <- reply
		return <-reply
	case "timeouts":
		const n = 100000
		c := make(chan int, 1024)
		for i := 0; i < n; i++ {
			go func(i int) {
				never := make(chan int)
				select {
				case <-never:
				case <-time.After(time.Duration(i%100+1) * time.Millisecond):
				}
				c <- 1
			}(i)
		}
		for i := 0; i < n; i++ {
			<-c
		}
		return n
	}
	fmt.Fprintln(os.Stderr, "unknown workload", w)
	os.Exit(2)
	return 0
}

func main() {
	t := time.Now()
	r := run(os.Args[1])
	e := time.Since(t)
	fmt.Printf("%d\nelapsed_ns\n%d\n", r, e.Nanoseconds())
}
