// The Savina workloads (Imam & Sarkar, 2014) on Go 1.19: one program, the workload chosen by
// argument. Each follows the algorithm, sizes and generator of bench/skein/W.ska, whose header
// comment defines it, so that all implementations print the same checksum.
//
//	go build -o savina savina.go && ./savina WORKLOAD
//
// WORKLOAD is one of chameneos big banking fjthroughput fjcreation threadring sieve prodcons
// philosophers barber concdict nqueens. Each run prints `checksum <n>`, then `elapsed_ms <ms>`
// timed inside the program around the workload (start-up excluded). An actor is a goroutine and
// its mailbox a buffered channel, large enough that no send waits where an Erlang mailbox would
// take the message at once (a sender can wait only where the sizes below say so).
package main

import (
	"fmt"
	"os"
	"time"
)

const modulus = 2_147_483_647

// next is the Park-Miller generator every workload draws from.
func next(x int) int { return x * 48271 % modulus }

// sum receives n integers from c and adds them up.
func sum(c chan int, n int) int {
	total := 0
	for i := 0; i < n; i++ {
		total += <-c
	}
	return total
}

// ---- chameneos ----------------------------------------------------------------------------------

type meet struct{ from, colour int }

func chameneos() int {
	const n, meetings = 100, 200_000
	mall := make(chan meet, n)
	creatures := make([]chan int, n) // a partner's colour, or -1: stop
	done := make(chan int, n)
	for i := range creatures {
		creatures[i] = make(chan int, 1)
	}
	go func() {
		left, waiting, waitingColour, stopped := meetings, -1, 0, 0
		for m := range mall {
			switch {
			case left == 0:
				creatures[m.from] <- -1
				if stopped++; stopped == n {
					return
				}
			case waiting < 0:
				waiting, waitingColour = m.from, m.colour
			default:
				creatures[waiting] <- m.colour
				creatures[m.from] <- waitingColour
				waiting, left = -1, left-1
			}
		}
	}()
	for i := 0; i < n; i++ {
		go func(i, colour int) {
			meetings := 0
			for {
				mall <- meet{i, colour}
				other := <-creatures[i]
				if other < 0 {
					done <- meetings
					return
				}
				if other != colour {
					colour = 3 - colour - other
				}
				meetings++
			}
		}(i, i%3)
	}
	return sum(done, n)
}

// ---- big ------------------------------------------------------------------------------------------

const (
	ping = iota
	pong
	exit
)

type bigMessage struct{ kind, from int }

func big() int {
	const n, pings = 120, 10_000
	actors := make([]chan bigMessage, n)
	for i := range actors {
		actors[i] = make(chan bigMessage, n+2) // one ping from each actor, a pong and exit
	}
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			x, total, left := i+1, 0, pings
			send := func() {
				x = next(x)
				target := x % n
				total += target
				actors[target] <- bigMessage{ping, i}
			}
			send()
			for m := range actors[i] {
				switch m.kind {
				case ping:
					actors[m.from] <- bigMessage{pong, i}
				case pong:
					if left--; left > 0 {
						send()
					} else {
						results <- total
					}
				case exit:
					return
				}
			}
		}(i)
	}
	total := sum(results, n)
	for _, a := range actors {
		a <- bigMessage{kind: exit}
	}
	return total
}

// ---- banking --------------------------------------------------------------------------------------

// credit is an order from the teller; destination < 0 means stop.
type credit struct{ destination, amount int }

// debitOrReply is a message of the selective receive: a debit from another account, or (from < 0)
// the reply to this account's own debit.
type debitOrReply struct{ from, amount int }

type balance struct{ index, balance int }

func banking() int {
	const n, transactions = 1_000, 50_000
	credits := make([]chan credit, n) // the teller waits when an account has 256 orders queued
	debits := make([]chan debitOrReply, n)
	for i := range credits {
		credits[i] = make(chan credit, 256)
		debits[i] = make(chan debitOrReply, n+1) // one debit from each other account and a reply
	}
	acks := make(chan int, transactions)
	balances := make(chan balance, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			money := 1_000_000
			for {
				select {
				case c := <-credits[i]:
					if c.destination < 0 {
						balances <- balance{i, money}
						return
					}
					money -= c.amount
					debits[c.destination] <- debitOrReply{i, c.amount}
					for waiting := true; waiting; { // credit orders stay queued meanwhile
						m := <-debits[i]
						if m.from < 0 {
							waiting = false
						} else {
							money += m.amount
							debits[m.from] <- debitOrReply{-1, 0}
						}
					}
					acks <- 1
				case m := <-debits[i]:
					money += m.amount
					debits[m.from] <- debitOrReply{-1, 0}
				}
			}
		}(i)
	}
	x := 1
	for t := 0; t < transactions; t++ {
		x = next(x)
		source := x % n
		x = next(x)
		destination := x % n
		if destination == source {
			destination = (destination + 1) % n
		}
		x = next(x)
		credits[source] <- credit{destination, x%1000 + 1}
	}
	sum(acks, transactions)
	for _, c := range credits {
		c <- credit{destination: -1}
	}
	checksum := 0
	for i := 0; i < n; i++ {
		b := <-balances
		checksum += (b.index + 1) * b.balance
	}
	return checksum
}

// ---- fork-join ------------------------------------------------------------------------------------

func fjThroughput() int {
	const n, messages = 60, 10_000
	workers := make([]chan int, n)
	results := make(chan int, n)
	for i := range workers {
		workers[i] = make(chan int, 1024) // main waits when a worker is 1024 messages behind
		go func(mailbox chan int) {
			acc := 0
			for seen := 0; seen < messages; seen++ {
				acc = (acc*31 + <-mailbox) % 1_000_003
			}
			results <- acc
		}(workers[i])
	}
	v := 0
	for j := 0; j < messages; j++ {
		for _, w := range workers {
			w <- v
			v++
		}
	}
	return sum(results, n)
}

func fjCreation() int {
	const n = 200_000
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		mailbox := make(chan int, 1)
		go func() { results <- <-mailbox * 7919 % 10_007 }()
		mailbox <- i
	}
	return sum(results, n)
}

// ---- thread ring ------------------------------------------------------------------------------------

func threadRing() int {
	const n, hops = 100, 1_000_003
	nodes := make([]chan int, n)
	for i := range nodes {
		nodes[i] = make(chan int, 1)
	}
	done := make(chan int, 1)
	for i := 0; i < n; i++ {
		go func(i int, mailbox, next chan int) {
			for {
				t := <-mailbox
				if t > 0 {
					next <- t - 1
					continue
				}
				if t == 0 {
					done <- i
				}
				next <- -1
				return
			}
		}(i, nodes[i], nodes[(i+1)%n])
	}
	nodes[0] <- hops
	return hops + <-done
}

// ---- concurrent sieve -----------------------------------------------------------------------------

// sieveMessage is a number, or (done) the running count and sum of the primes.
type sieveMessage struct {
	done               bool
	number, count, sum int
}

func sieve() int {
	const limit, perFilter = 50_000, 50
	result := make(chan sieveMessage, 1)
	var filter func(prime int, mailbox chan sieveMessage)
	filter = func(prime int, mailbox chan sieveMessage) {
		primes := []int{prime}
		var next chan sieveMessage
	messages:
		for m := range mailbox {
			if m.done {
				m.count += len(primes)
				for _, p := range primes {
					m.sum += p
				}
				if next == nil {
					result <- m
				} else {
					next <- m
				}
				return
			}
			for _, p := range primes {
				if m.number%p == 0 {
					continue messages
				}
			}
			switch {
			case len(primes) < perFilter:
				primes = append(primes, m.number)
			case next == nil:
				next = make(chan sieveMessage, 1024)
				go filter(m.number, next)
			default:
				next <- m
			}
		}
	}
	first := make(chan sieveMessage, 1024)
	go filter(3, first)
	for v := 5; v <= limit; v += 2 {
		first <- sieveMessage{number: v}
	}
	first <- sieveMessage{done: true, count: 1, sum: 2} // the prime 2, which no filter sees
	r := <-result
	return r.count + r.sum
}

// ---- producer-consumer ------------------------------------------------------------------------------

const (
	data = iota
	avail
	pdone
)

type managerMessage struct{ kind, from, item int }

func prodCons() int {
	const producers, consumers, bufferSize, items = 40, 40, 50, 2_500
	manager := make(chan managerMessage, producers+consumers) // one message each at most
	toProducer := make([]chan struct{}, producers)
	toConsumer := make([]chan int, consumers) // an item, or -1: exit
	sums := make(chan int, consumers)
	for i := range toProducer {
		toProducer[i] = make(chan struct{}, 1)
	}
	for i := range toConsumer {
		toConsumer[i] = make(chan int, 1)
	}
	go func() {
		capacity := bufferSize + producers
		ring := make([]int, capacity)
		head, count, done := 0, 0, 0
		var idle, waiting []int // stacks
		for m := range manager {
			switch m.kind {
			case data:
				if len(idle) > 0 {
					toConsumer[idle[len(idle)-1]] <- m.item
					idle = idle[:len(idle)-1]
					toProducer[m.from] <- struct{}{}
					continue
				}
				ring[(head+count)%capacity] = m.item
				if count++; count >= bufferSize {
					waiting = append(waiting, m.from)
				} else {
					toProducer[m.from] <- struct{}{}
				}
				continue
			case avail:
				if count > 0 {
					toConsumer[m.from] <- ring[head]
					head, count = (head+1)%capacity, count-1
					if len(waiting) > 0 {
						toProducer[waiting[len(waiting)-1]] <- struct{}{}
						waiting = waiting[:len(waiting)-1]
					}
					continue
				}
				idle = append(idle, m.from)
			case pdone:
				done++
			}
			if done == producers && count == 0 && len(idle) == consumers {
				for _, c := range idle {
					toConsumer[c] <- -1
				}
				return
			}
		}
	}()
	for i := 0; i < consumers; i++ {
		go func(i int) {
			total := 0
			for {
				manager <- managerMessage{avail, i, 0}
				item := <-toConsumer[i]
				if item < 0 {
					sums <- total
					return
				}
				total += item
			}
		}(i)
	}
	for i := 0; i < producers; i++ {
		go func(i int) {
			x := i + 1
			for k := 0; k < items; k++ {
				x = next(x)
				manager <- managerMessage{data, i, x % 1000}
				<-toProducer[i]
			}
			manager <- managerMessage{kind: pdone}
		}(i)
	}
	return sum(sums, consumers)
}

// ---- dining philosophers ------------------------------------------------------------------------------

type arbitratorMessage struct {
	kind  int // hungry, finished or gone
	index int
}

const (
	hungry = iota
	finished
	gone
)

func philosophers() int {
	const n, rounds = 20, 10_000
	arbitrator := make(chan arbitratorMessage, n) // one message each at most
	answers := make([]chan bool, n)               // true: eat, false: denied
	result := make(chan int, 1)
	for i := range answers {
		answers[i] = make(chan bool, 1)
	}
	go func() {
		forks := make([]bool, n)
		meals, left := 0, n
		for m := range arbitrator {
			right := (m.index + 1) % n
			switch m.kind {
			case gone:
				if left--; left == 0 {
					result <- meals
					return
				}
			case finished:
				forks[m.index], forks[right] = false, false
			case hungry:
				if forks[m.index] || forks[right] {
					answers[m.index] <- false
				} else {
					forks[m.index], forks[right] = true, true
					meals++
					answers[m.index] <- true
				}
			}
		}
	}()
	for i := 0; i < n; i++ {
		go func(i int) {
			for meals := 0; meals < rounds; {
				arbitrator <- arbitratorMessage{hungry, i}
				if <-answers[i] {
					arbitrator <- arbitratorMessage{finished, i}
					meals++
				}
			}
			arbitrator <- arbitratorMessage{gone, i}
		}(i)
	}
	return <-result
}

// ---- sleeping barber ----------------------------------------------------------------------------------

// busy returns w after that many busy steps.
func busy(steps, w int) int {
	for ; steps > 0; steps-- {
		w = (w*31 + 7) % 1_000_003
	}
	return w
}

const (
	wait = iota
	full
	served
)

// roomMessage is a customer entering, or (customer == nil) the barber asking for the next one, or
// (exit) the end.
type roomMessage struct {
	customer chan int
	id       int
	exit     bool
}

func barber() int {
	const customers, seats, arrival, haircut = 10_000, 1_000, 1_000, 100
	room := make(chan roomMessage, customers+2) // every customer at once, next and exit
	toBarber := make(chan roomMessage, 2)
	done := make(chan int, customers)
	barberW := make(chan int, 1)
	go func() { // the barber
		x, w := 2, 1
		for m := range toBarber {
			if m.exit {
				barberW <- w
				return
			}
			x = next(x)
			w = busy(x%haircut, w)
			m.customer <- served
			room <- roomMessage{}
		}
	}()
	go func() { // the waiting room
		ring := make([]roomMessage, seats)
		head, seated, sleeps := 0, 0, true
		for m := range room {
			switch {
			case m.exit:
				toBarber <- m
				return
			case m.customer == nil: // next
				if seated == 0 {
					sleeps = true
				} else {
					toBarber <- ring[head]
					head, seated = (head+1)%seats, seated-1
				}
			case sleeps:
				sleeps = false
				toBarber <- m
			case seated >= seats:
				m.customer <- full
			default:
				ring[(head+seated)%seats] = m
				seated++
				m.customer <- wait
			}
		}
	}()
	x, w := 1, 1
	for id := 0; id < customers; id++ {
		x = next(x)
		w = busy(x%arrival, w)
		go func(id int) {
			mailbox := make(chan int, 2)
			for {
				room <- roomMessage{customer: mailbox, id: id}
				answer := <-mailbox
				for answer == wait {
					answer = <-mailbox
				}
				if answer == served {
					done <- id + 1
					return
				}
				time.Sleep(time.Millisecond) // every seat taken: back 1 ms later
			}
		}(id)
	}
	total := sum(done, customers)
	room <- roomMessage{exit: true}
	return total + <-barberW + w
}

// ---- concurrent dictionary ------------------------------------------------------------------------------

type request struct {
	write      bool
	key, value int
	reply      chan int
}

func concDict() int {
	const workers, operations, writes, slots = 20, 10_000, 10, 40_009
	dictionary := make(chan request, workers) // one request each at most
	results := make(chan int, workers)
	go func() {
		keys := make([]int, slots) // a slot holds key + 1, so that 0 marks a free one
		values := make([]int, slots)
		for r := range dictionary {
			slot := r.key * 7919 % slots
			for keys[slot] != 0 && keys[slot] != r.key+1 {
				slot = (slot + 1) % slots
			}
			if r.write {
				keys[slot], values[slot] = r.key+1, r.value
				r.reply <- 0
			} else {
				r.reply <- values[slot]
			}
		}
	}()
	for w := 0; w < workers; w++ {
		go func(w int) {
			x, total := w+1, 0
			reply := make(chan int, 1)
			for k := 0; k < operations; k++ {
				x = next(x)
				key := x%1000*workers + w
				x = next(x)
				if x%100 < writes {
					dictionary <- request{true, key, x % 100_000, reply}
					<-reply
				} else {
					dictionary <- request{false, key, 0, reply}
					total += <-reply
				}
			}
			results <- total
		}(w)
	}
	return sum(results, workers)
}

// ---- N-queens ---------------------------------------------------------------------------------------------

type job struct{ c0, c1 int }
type found struct{ worker, solutions int }

// safe reports whether a queen at (row, column) is attacked by none in rows 0 .. row-1.
func safe(columns []int, row, column int) bool {
	for r := 0; r < row; r++ {
		d := columns[r] - column
		if d == 0 || d == row-r || d == r-row {
			return false
		}
	}
	return true
}

// solve counts the ways to complete rows row .. len(columns)-1.
func solve(columns []int, row int) int {
	if row == len(columns) {
		return 1
	}
	count := 0
	for c := 0; c < len(columns); c++ {
		if safe(columns, row, c) {
			columns[row] = c
			count += solve(columns, row+1)
		}
	}
	return count
}

func nQueens() int {
	const queens, workers = 11, 8
	var jobs []job
	for c0 := 0; c0 < queens; c0++ {
		for c1 := 0; c1 < queens; c1++ {
			if d := c0 - c1; d < -1 || d > 1 {
				jobs = append(jobs, job{c0, c1})
			}
		}
	}
	master := make(chan found, workers)
	toWorker := make([]chan job, workers) // a job, or c0 < 0: exit
	for i := range toWorker {
		toWorker[i] = make(chan job, 1)
		go func(i int) {
			columns := make([]int, queens)
			solutions := 0
			for {
				master <- found{i, solutions}
				j := <-toWorker[i]
				if j.c0 < 0 {
					return
				}
				columns[0], columns[1] = j.c0, j.c1
				solutions = solve(columns, 2)
			}
		}(i)
	}
	total, nextJob := 0, 0
	for left := workers; left > 0; {
		f := <-master
		total += f.solutions
		if nextJob < len(jobs) {
			toWorker[f.worker] <- jobs[nextJob]
			nextJob++
		} else {
			toWorker[f.worker] <- job{-1, -1}
			left--
		}
	}
	return total
}

func main() {
	workloads := map[string]func() int{
		"chameneos": chameneos, "big": big, "banking": banking, "fjthroughput": fjThroughput,
		"fjcreation": fjCreation, "threadring": threadRing, "sieve": sieve, "prodcons": prodCons,
		"philosophers": philosophers, "barber": barber, "concdict": concDict, "nqueens": nQueens,
	}
	if len(os.Args) != 2 || workloads[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: savina WORKLOAD (chameneos big banking fjthroughput fjcreation threadring sieve prodcons philosophers barber concdict nqueens)")
		os.Exit(64)
	}
	t0 := time.Now()
	checksum := workloads[os.Args[1]]()
	elapsed := time.Since(t0)
	fmt.Printf("checksum %d\nelapsed_ms %.3f\n", checksum, float64(elapsed.Microseconds())/1000)
}
