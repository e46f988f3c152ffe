// The benchmark workloads on Go 1.19 (goroutines and channels): one program, the workload chosen
// by argument.
//
//	go build -o gobench bench.go && ./gobench WORKLOAD
//
// WORKLOAD is one of fib pfib loop pingpong ring spawn counting timeouts hold. Each run prints a
// result line, then `elapsed_ms <ms>` timed inside the program around the workload (start-up
// excluded); hold also prints `bytes_per_process <n>`. A process's mailbox is a channel; where
// an Erlang mailbox would absorb a burst without blocking the sender, the channel is buffered.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// timed runs f and returns its result and the time it took.
func timed(f func() int) (int, time.Duration) {
	t0 := time.Now()
	r := f()
	return r, time.Since(t0)
}

// fibWorkload: naive recursive fib(30) in one goroutine.
func fibWorkload() int { return fib(30) }

// pfib: 2 goroutines each compute fib(30).
func pfib() int {
	results := make(chan int)
	for i := 0; i < 2; i++ {
		go func() { results <- fib(30) }()
	}
	return <-results + <-results
}

// loop: sum 1 .. 100,000,000 in a loop.
func loop() int {
	sum := 0
	for i := 1; i <= 100_000_000; i++ {
		sum += i
	}
	return sum
}

// pingpong: 2 goroutines, 1,000,000 round trips.
func pingpong() int {
	const n = 1_000_000
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	close(ping)
	return n
}

// ring: 1,000 goroutines in a ring; a token makes 1,000,000 hops. Returns a function that runs
// the hops, so that building the ring is not timed.
func ring() func() int {
	const size, hops = 1000, 1_000_000
	mailboxes := make([]chan int, size)
	for i := range mailboxes {
		mailboxes[i] = make(chan int, 1)
	}
	done := make(chan int)
	for i := 0; i < size; i++ {
		go func(in, next chan int) {
			for k := range in {
				if k == 0 {
					done <- hops
				} else {
					next <- k - 1
				}
			}
		}(mailboxes[i], mailboxes[(i+1)%size])
	}
	return func() int {
		mailboxes[0] <- hops
		return <-done
	}
}

// spawn: 1,000,000 goroutines, each sends one message to the parent, which collects all.
func spawn() int {
	const n = 1_000_000
	mailbox := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() { mailbox <- 1 }()
	}
	got := 0
	for i := 0; i < n; i++ {
		got += <-mailbox
	}
	return got
}

// counting: one producer sends 1,000,000 messages to a counter, then asks for the count.
func counting() int {
	const n = 1_000_000
	type message struct{ reply chan int } // reply == nil: increment
	mailbox := make(chan message, 1024)
	go func() {
		count := 0
		for m := range mailbox {
			if m.reply == nil {
				count++
			} else {
				m.reply <- count
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		mailbox <- message{}
	}
	reply := make(chan int)
	mailbox <- message{reply}
	return <-reply
}

// timeouts: 100,000 goroutines each wait in a receive with a timeout of (i mod 100) + 1 ms;
// the parent waits for all.
func timeouts() int {
	const n = 100_000
	parent := make(chan int, n)
	for i := 0; i < n; i++ {
		go func(ms int) {
			var mailbox chan int // nobody sends: the wait always times out
			timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
			select {
			case <-mailbox:
			case <-timer.C:
			}
			parent <- 1
		}(i%100 + 1)
	}
	got := 0
	for i := 0; i < n; i++ {
		got += <-parent
	}
	return got
}

// hold: 100,000 goroutines blocked in a receive; bytes per goroutine from the growth of
// runtime.MemStats.Sys. Returns the count, the time the spawns took, and the bytes per goroutine.
func hold() (int, time.Duration, uint64) {
	const n = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, elapsed := timed(func() int {
		for i := 0; i < n; i++ {
			mailbox := make(chan int)
			go func() { <-mailbox }()
		}
		return n
	})
	time.Sleep(300 * time.Millisecond) // let every goroutine reach its receive
	runtime.ReadMemStats(&after)
	return n, elapsed, (after.Sys - before.Sys) / n
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gobench WORKLOAD")
		os.Exit(64)
	}
	workloads := map[string]func() int{
		"fib": fibWorkload, "pfib": pfib, "loop": loop, "pingpong": pingpong,
		"spawn": spawn, "counting": counting, "timeouts": timeouts,
	}
	var result int
	var elapsed time.Duration
	var bytesPerProcess uint64
	switch w := os.Args[1]; {
	case w == "ring":
		result, elapsed = timed(ring())
	case w == "hold":
		result, elapsed, bytesPerProcess = hold()
	case workloads[w] != nil:
		result, elapsed = timed(workloads[w])
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", w)
		os.Exit(2)
	}
	fmt.Printf("%d\nelapsed_ms %.3f\n", result, float64(elapsed.Microseconds())/1000)
	if bytesPerProcess > 0 {
		fmt.Printf("bytes_per_process %d\n", bytesPerProcess)
	}
}
