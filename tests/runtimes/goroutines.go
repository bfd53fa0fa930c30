// Goroutines, channels, timers, the garbage collector and asynchronous preemption (the Go
// runtime preempts a goroutine spinning without calls by sending its thread SIGURG).
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(4)
	results := make(chan int, 100)
	var wg sync.WaitGroup
	for w := 0; w < 100; w++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			s := 0
			for i := 0; i < 100000; i++ {
				s += (i ^ id) % 7
			}
			results <- s
		}(w)
	}
	wg.Wait()
	close(results)
	total := 0
	for s := range results {
		total += s
	}

	// A goroutine spinning in a loop without function calls must still be preempted so that
	// the timer below fires and the program ends.
	stop := false
	var mu sync.Mutex
	go func() {
		x := 0
		for {
			x++
			if x%1000000000 == 0 {
				mu.Lock()
				s := stop
				mu.Unlock()
				if s {
					return
				}
			}
		}
	}()
	start := time.Now()
	<-time.After(50 * time.Millisecond)
	waited := time.Since(start) >= 50*time.Millisecond

	var garbage [][]byte
	for i := 0; i < 2000; i++ {
		garbage = append(garbage, make([]byte, 64<<10))
		if len(garbage) > 50 {
			garbage = nil
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("sum %d, timer after a spinning goroutine: %v, GC cycles > 0: %v\n", total, waited, ms.NumGC > 0)
}
