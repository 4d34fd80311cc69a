// Workload stream: source -> K stages -> sink over buffered channels of capacity C.
//
// A buffered channel (make(chan item, C)) is Go's bounded queue: a send blocks while C items are
// waiting, so a slow sink holds every stage and the source back. The source, each stage, and the
// sink are goroutines (the sink is the calling goroutine); each stage ranges over its input and
// closes its output when the input is closed. Items travel by value (16 bytes, no allocation).
// Latency stamps are nanoseconds since a time.Now() base taken before the source starts;
// time.Since uses the monotonic clock reading, so stamps are monotonic.
// --warmup-items W runs one complete, separate pipeline over W items first (same code, untimed,
// result discarded); --min-ms T keeps the source going past N items until T ms have passed, stopping
// on a multiple of 4096 items (docs/PROTOCOL.md). The sink takes the end time at item N and at every
// later multiple of 4096, so the last reading is the one at the last item, whichever that is.
// paused_ms is the time the slow-consumer sink spent in its sleeps, measured around each one.
package main

import "time"

type streamConfig struct {
	items, stages, capacity int
	slowConsumer            bool
	pauseEvery              int
	pause                   time.Duration
	sampleEvery             int
	warmupItems             int
	minDuration             time.Duration // 0 = exactly `items` items
}

type item struct {
	value   uint32
	stamped bool
	stamp   int64 // ns since the run's base time; valid if stamped
}

type streamResult struct {
	Event            string  `json:"event"`
	Workload         string  `json:"workload"`
	Items            int     `json:"items"`
	Checksum         uint32  `json:"checksum"`
	ElapsedMs        float64 `json:"elapsed_ms"`
	PausedMs         float64 `json:"paused_ms"`
	LatencySamplesNs []int64 `json:"latency_samples_ns"`
}

// transform is the per-stage step: one LCG step, mod 2^32 by uint32 wrap-around.
func transform(v uint32) uint32 { return v*1664525 + 1013904223 }

const fnvOffset, fnvPrime uint32 = 2166136261, 16777619

// fold is the sink's order-sensitive FNV-1a-style checksum step.
func fold(h, v uint32) uint32 { return (h ^ v) * fnvPrime }

// lengthStep is the granularity at which a --min-ms run may stop (docs/PROTOCOL.md).
const lengthStep = 4096

// runStream runs the warm-up pipeline (if any), then the measured one.
func runStream(c streamConfig) streamResult {
	if c.warmupItems > 0 {
		w := c
		w.items, w.minDuration, w.slowConsumer = c.warmupItems, 0, false
		runPipeline(w)
	}
	return runPipeline(c)
}

func runPipeline(c streamConfig) streamResult {
	samples := make([]int64, 0, c.items/c.sampleEvery+1)
	start := time.Now()

	src := make(chan item, c.capacity)
	go func() {
		for seq := 0; c.minDuration > 0 || seq < c.items; seq++ {
			it := item{value: uint32(seq)}
			if seq%c.sampleEvery == 0 {
				it.stamped, it.stamp = true, int64(time.Since(start))
			}
			src <- it
			if n := seq + 1; n >= c.items &&
				(c.minDuration == 0 || n%lengthStep == 0 && time.Since(start) >= c.minDuration) {
				break
			}
		}
		close(src)
	}()

	in := src
	for range c.stages {
		out := make(chan item, c.capacity)
		go func(in <-chan item, out chan<- item) {
			for it := range in {
				it.value = transform(it.value)
				out <- it
			}
			close(out)
		}(in, out)
		in = out
	}

	h := fnvOffset
	received := 0
	var elapsed, paused, pausedAtEnd time.Duration
	for it := range in {
		h = fold(h, it.value)
		received++
		if it.stamped {
			samples = append(samples, int64(time.Since(start))-it.stamp)
		}
		if received >= c.items && (received == c.items || received%lengthStep == 0) {
			elapsed = time.Since(start) // the last such reading is at the last item
			pausedAtEnd = paused        // a pause after the last item lies outside elapsed
		}
		if c.slowConsumer && received%c.pauseEvery == 0 {
			before := time.Now()
			time.Sleep(c.pause)
			paused += time.Since(before)
		}
	}
	if received == 0 {
		elapsed = time.Since(start)
	}
	return streamResult{Event: "result", Workload: "stream", Items: received, Checksum: h,
		ElapsedMs: ms(elapsed), PausedMs: ms(pausedAtEnd), LatencySamplesNs: samples}
}
