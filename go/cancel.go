// Workload cancel (docs/PROTOCOL.md, issue 16): what giving up costs, and which idioms lose data.
//
// Go cancels cooperatively through context.Context: cancel() closes ctx.Done(), and every goroutine
// that selects on it wakes; cleanup is a plain `defer`, which always runs when the goroutine returns.
//   - mass: N goroutines, each with its own 1 KiB buffer and a deferred cleanup, block in
//     `select { <-ctx.Done() | <-timer.C }` on a 3600 s time.Timer; cancel = one context.CancelFunc.
//     The goroutine whose cleanup brings the count to N records cancel_ms. Then wg.Wait(),
//     runtime.GC() and debug.FreeOSMemory() (returns freed spans to the OS) before the last phase.
//   - deadline: P workers; op i makes a buffered channel of 1 (so the responder's send never blocks
//     even when nobody receives any more: a late response is simply dropped with the channel) and
//     races it against a time.Timer in select, stopping the timer when the response wins. Late
//     responders are all waited for (a WaitGroup of M) after elapsed_ms is taken, so the program
//     never exits under a running responder. When both cases are ready by the time the worker runs
//     (a descheduled process), select picks one uniformly at random (Go spec): under heavy lag a
//     response that was due first can still lose, which shows up as extra timeouts.
//   - safety: a buffered channel of 16, consumer `select { v, ok := <-ch | <-ticker.C }`. Go's select
//     is atomic: a receive case that is not chosen takes nothing from the channel (Go spec, "Select
//     statements": exactly one case proceeds), so the standard primitives have no cancellation-unsafe
//     receive; --idiom unsafe runs the same code and says so in idiom_note.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// splitmix64 is the protocol's PRNG (identical in every language).
type splitmix64 struct{ state uint64 }

func (s *splitmix64) next() uint64 {
	s.state += 0x9E3779B97F4A7C15
	z := s.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// phase announces a mass phase and blocks until the harness acknowledges it with one stdin line.
func phase(name string, acks *bufio.Reader) {
	emit(map[string]string{"event": "phase", "phase": name})
	if _, err := acks.ReadString('\n'); err != nil {
		fmt.Fprintf(os.Stderr, "asyncbench-go: cancel: stdin closed while waiting for the %s acknowledgement (the harness went away)\n", name)
		os.Exit(1)
	}
}

type massResult struct {
	Event           string  `json:"event"`
	Workload        string  `json:"workload"`
	Variant         string  `json:"variant"`
	Tasks           int     `json:"tasks"`
	Cleanups        int64   `json:"cleanups"`
	CleanupChecksum uint64  `json:"cleanup_checksum"`
	CancelMs        float64 `json:"cancel_ms"`
}

func runCancelMass(n int, acks *bufio.Reader) massResult {
	phase("start", acks)
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg        sync.WaitGroup
		armed     atomic.Int64
		cleanups  atomic.Int64
		checksum  atomic.Uint64
		cancelEnd atomic.Int64 // ns since t0 when the N-th cleanup ran
		t0        time.Time
	)
	allArmed := make(chan struct{})
	allClean := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			buf := make([]byte, 1024)
			for j := range buf {
				buf[j] = byte(i + j)
			}
			defer func() { // the cleanup guard: runs however the goroutine returns
				checksum.Add(uint64(i) + uint64(buf[1023]))
				if cleanups.Add(1) == int64(n) {
					cancelEnd.Store(int64(time.Since(t0)))
					close(allClean)
				}
			}()
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			if armed.Add(1) == int64(n) {
				close(allArmed)
			}
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		})
	}
	<-allArmed
	phase("armed", acks)
	t0 = time.Now() // written before cancel(), which happens-before every ctx.Done() receive
	cancel()
	<-allClean
	cancelMs := ms(time.Duration(cancelEnd.Load()))
	wg.Wait()
	runtime.GC()
	debug.FreeOSMemory()
	phase("cancelled", acks)
	return massResult{Event: "result", Workload: "cancel", Variant: "mass", Tasks: n,
		Cleanups: cleanups.Load(), CleanupChecksum: checksum.Load(), CancelMs: cancelMs}
}

type deadlineResult struct {
	Event       string  `json:"event"`
	Workload    string  `json:"workload"`
	Variant     string  `json:"variant"`
	Ops         int     `json:"ops"`
	Timeouts    int64   `json:"timeouts"`
	ResponseSum uint64  `json:"response_sum"`
	ElapsedMs   float64 `json:"elapsed_ms"`
}

// responseDelays draws d_i for every op up front (outside the timed region): T/4 (at least 1 ms)
// when x_i % 4 != 0, so the response wins, else 4T, so the timeout wins.
func responseDelays(m int, timeout time.Duration, seed uint64) []time.Duration {
	fast := max(timeout/4/time.Millisecond, 1) * time.Millisecond
	rng := splitmix64{seed}
	d := make([]time.Duration, m)
	for i := range d {
		if rng.next()%4 != 0 {
			d[i] = fast
		} else {
			d[i] = 4 * timeout
		}
	}
	return d
}

func runCancelDeadline(m, p int, timeout time.Duration, seed uint64) deadlineResult {
	delays := responseDelays(m, timeout, seed)
	var (
		workers    sync.WaitGroup
		responders sync.WaitGroup
		timeouts   atomic.Int64
		sum        atomic.Uint64
	)
	responders.Add(m)
	start := time.Now()
	for w := range min(p, m) {
		workers.Go(func() {
			var myTimeouts int64
			var mySum uint64
			for i := w; i < m; i += p {
				slot := make(chan int, 1) // room for the one value: a late send never blocks
				go func() {
					defer responders.Done()
					time.Sleep(delays[i])
					slot <- i
				}()
				timer := time.NewTimer(timeout)
				select {
				case v := <-slot:
					timer.Stop()
					mySum += uint64(v)
				case <-timer.C:
					myTimeouts++
				}
			}
			timeouts.Add(myTimeouts)
			sum.Add(mySum)
		})
	}
	workers.Wait()
	elapsed := time.Since(start)
	responders.Wait() // every late responder has delivered into its abandoned slot
	return deadlineResult{Event: "result", Workload: "cancel", Variant: "deadline", Ops: m,
		Timeouts: timeouts.Load(), ResponseSum: sum.Load(), ElapsedMs: ms(elapsed)}
}

type safetyResult struct {
	Event     string `json:"event"`
	Workload  string `json:"workload"`
	Variant   string `json:"variant"`
	Idiom     string `json:"idiom"`
	Items     int    `json:"items"`
	Received  int    `json:"received"`
	Checksum  uint64 `json:"checksum"`
	Ticks     int    `json:"ticks"`
	IdiomNote string `json:"idiom_note,omitempty"`
}

const goSelectNote = "Go's select is atomic: a receive case that is not chosen takes nothing from the channel, " +
	"so the standard primitives have no cancellation-unsafe receive; the unsafe idiom runs the safe code"

// The producer sleeps safetyPause after every safetyBurst sends (odd, and longer than the 1 ms
// tick, as in every language: docs/PROTOCOL.md, "variant safety").
const (
	safetyBurst = 63
	safetyPause = 2 * time.Millisecond
)

func runCancelSafety(k int, unsafe bool) safetyResult {
	ch := make(chan int, 16)
	go func() {
		for v := range k {
			ch <- v
			if (v+1)%safetyBurst == 0 {
				time.Sleep(safetyPause)
			}
		}
		close(ch)
	}()
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	r := safetyResult{Event: "result", Workload: "cancel", Variant: "safety", Idiom: "safe", Items: k}
	if unsafe {
		r.Idiom, r.IdiomNote = "unsafe", goSelectNote
	}
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				return r
			}
			r.Received++
			r.Checksum += uint64(v)
		case <-ticker.C:
			r.Ticks++
		}
	}
}
