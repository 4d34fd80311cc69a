// Workload fanout: N goroutines, each sleeping D ms, joined with a sync.WaitGroup.
//
// A goroutine is Go's task primitive; time.Sleep parks it on the runtime's timer heap without an OS
// thread. Each task writes its contribution to its own slot of a results slice (the Go analogue of
// a task's return value / JoinHandle / Promise.all result); the slots are summed after wg.Wait(),
// which orders those writes before the reads.
// spawn_ms (docs/PROTOCOL.md): time until every task has armed its timer. Each goroutine adds itself
// to an atomic counter immediately before time.Sleep; the one that brings it to N stores the elapsed
// time (goroutines run on GOMAXPROCS threads, hence the atomics). loop_ms is the time the spawn loop
// took to return, which in Go says little: a goroutine may not have run yet when `go` returns.
// The state variant makes a 1024-byte slice per task, filled before the sleep and summed after it,
// so it is live across the sleep. Escape analysis keeps a non-escaping make([]byte, 1024) on the
// goroutine's own stack (the stack grows to hold it), which is where Go keeps per-goroutine state:
// the memory is real and per task, just not a separate heap object.
package main

import (
	"sync"
	"sync/atomic"
	"time"
)

type fanoutResult struct {
	Event    string  `json:"event"`
	Workload string  `json:"workload"`
	Tasks    int     `json:"tasks"`
	Checksum uint64  `json:"checksum"`
	SpawnMs  float64 `json:"spawn_ms"`
	LoopMs   float64 `json:"loop_ms"`
	TotalMs  float64 `json:"total_ms"`
}

// armedCounter records when the last of n tasks has counted itself in.
type armedCounter struct {
	n       int64
	start   time.Time
	count   atomic.Int64
	elapsed atomic.Int64 // ns from start to the n-th arm
}

// arm is called by each task immediately before it awaits its timer.
func (a *armedCounter) arm() {
	if a.count.Add(1) == a.n {
		a.elapsed.Store(int64(time.Since(a.start)))
	}
}

func runFanout(n int, sleep time.Duration, state bool) fanoutResult {
	results := make([]uint64, n)
	var wg sync.WaitGroup
	armed := &armedCounter{n: int64(n), start: time.Now()} // carries a monotonic reading
	for i := range n {
		if state {
			wg.Go(func() { results[i] = stateTask(i, sleep, armed) })
		} else {
			wg.Go(func() { armed.arm(); time.Sleep(sleep); results[i] = uint64(i) })
		}
	}
	loop := time.Since(armed.start)
	wg.Wait()
	total := time.Since(armed.start)

	var sum uint64
	for _, r := range results {
		sum += r
	}
	return fanoutResult{Event: "result", Workload: "fanout", Tasks: n, Checksum: sum,
		SpawnMs: ms(time.Duration(armed.elapsed.Load())), LoopMs: ms(loop), TotalMs: ms(total)}
}

func stateTask(i int, sleep time.Duration, armed *armedCounter) uint64 {
	buf := make([]byte, 1024)
	for j := range buf {
		buf[j] = byte(i + j)
	}
	armed.arm()
	time.Sleep(sleep)
	var s uint64
	for _, b := range buf {
		s += uint64(b)
	}
	return uint64(i) + s
}
