// The data-structure workloads on Go: word_count (bench/skein/word_count.ska defines it), with a
// built-in map from strings to counts (mutable in place, where Skein and BEAM build a new map on
// every update). Prints `checksum <n>`, then `elapsed_ms <ms>` timed inside the program around
// the workload (start-up excluded).
//
//	go build -o wordcount wordcount.go && ./wordcount word_count
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const (
	modulus    = 2_147_483_647
	words      = 1_000_000
	vocabulary = 50_000
)

func wordCount() int {
	counts := map[string]int{}
	x := 1
	for i := 0; i < words; i++ {
		x = x * 48271 % modulus
		counts[strconv.Itoa(x%vocabulary)]++
	}
	squares := 0
	for _, n := range counts {
		squares += n * n
	}
	return squares + len(counts)
}

func main() {
	if len(os.Args) != 2 || os.Args[1] != "word_count" {
		fmt.Fprintln(os.Stderr, "usage: wordcount word_count")
		os.Exit(64)
	}
	start := time.Now()
	checksum := wordCount()
	elapsed := time.Since(start)
	fmt.Printf("checksum %d\nelapsed_ms %.3f\n", checksum, float64(elapsed.Microseconds())/1000)
}
