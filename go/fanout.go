// Workload fanout: N goroutines, each sleeping D ms, joined with a sync.WaitGroup.
//
// A goroutine is Go's task primitive; time.Sleep parks it on the runtime's timer heap without an OS
// thread. Each task writes its contribution to its own slot of a results slice (the Go analogue of
// a task's return value / JoinHandle / Promise.all result); the slots are summed after wg.Wait(),
// which orders those writes before the reads. This avoids N contended atomic adds on one cache line.
// The state variant makes a 1024-byte slice per task, filled before the sleep and summed after it,
// so it is live across the sleep. Escape analysis keeps a non-escaping make([]byte, 1024) on the
// goroutine's own stack (the stack grows to hold it), which is where Go keeps per-goroutine state:
// the memory is real and per task, just not a separate heap object.
package main

import (
	"sync"
	"time"
)

type fanoutResult struct {
	Event    string  `json:"event"`
	Workload string  `json:"workload"`
	Tasks    int     `json:"tasks"`
	Checksum uint64  `json:"checksum"`
	SpawnMs  float64 `json:"spawn_ms"`
	TotalMs  float64 `json:"total_ms"`
}

func runFanout(n int, sleep time.Duration, state bool) fanoutResult {
	results := make([]uint64, n)
	var wg sync.WaitGroup
	start := time.Now() // carries a monotonic reading; Since/Sub use it
	for i := range n {
		if state {
			wg.Go(func() { results[i] = stateTask(i, sleep) })
		} else {
			wg.Go(func() { time.Sleep(sleep); results[i] = uint64(i) })
		}
	}
	spawned := time.Since(start)
	wg.Wait()
	total := time.Since(start)

	var sum uint64
	for _, r := range results {
		sum += r
	}
	return fanoutResult{Event: "result", Workload: "fanout", Tasks: n, Checksum: sum,
		SpawnMs: ms(spawned), TotalMs: ms(total)}
}

func stateTask(i int, sleep time.Duration) uint64 {
	buf := make([]byte, 1024)
	for j := range buf {
		buf[j] = byte(i + j)
	}
	time.Sleep(sleep)
	var s uint64
	for _, b := range buf {
		s += uint64(b)
	}
	return uint64(i) + s
}
