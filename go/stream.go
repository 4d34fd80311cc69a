// Workload stream: source -> K stages -> sink over buffered channels of capacity C.
//
// A buffered channel (make(chan item, C)) is Go's bounded queue: a send blocks while C items are
// waiting, so a slow sink holds every stage and the source back. The source, each stage, and the
// sink are goroutines (the sink is the calling goroutine); each stage ranges over its input and
// closes its output when the input is closed. Items travel by value (16 bytes, no allocation).
// Latency stamps are nanoseconds since a time.Now() base taken before the source starts;
// time.Since uses the monotonic clock reading, so stamps are monotonic.
package main

import "time"

type streamConfig struct {
	items, stages, capacity int
	slowConsumer            bool
	pauseEvery              int
	pause                   time.Duration
	sampleEvery             int
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
	LatencySamplesNs []int64 `json:"latency_samples_ns"`
}

// transform is the per-stage step: one LCG step, mod 2^32 by uint32 wrap-around.
func transform(v uint32) uint32 { return v*1664525 + 1013904223 }

const fnvOffset, fnvPrime uint32 = 2166136261, 16777619

// fold is the sink's order-sensitive FNV-1a-style checksum step.
func fold(h, v uint32) uint32 { return (h ^ v) * fnvPrime }

func runStream(c streamConfig) streamResult {
	samples := make([]int64, 0, c.items/c.sampleEvery+1)
	start := time.Now()

	src := make(chan item, c.capacity)
	go func() {
		for seq := range c.items {
			it := item{value: uint32(seq)}
			if seq%c.sampleEvery == 0 {
				it.stamped, it.stamp = true, int64(time.Since(start))
			}
			src <- it
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
	var elapsed time.Duration
	for it := range in {
		h = fold(h, it.value)
		received++
		if it.stamped {
			samples = append(samples, int64(time.Since(start))-it.stamp)
		}
		if received == c.items {
			elapsed = time.Since(start)
		}
		if c.slowConsumer && received%c.pauseEvery == 0 {
			time.Sleep(c.pause)
		}
	}
	if c.items == 0 {
		elapsed = time.Since(start)
	}
	return streamResult{Event: "result", Workload: "stream", Items: c.items, Checksum: h,
		ElapsedMs: ms(elapsed), LatencySamplesNs: samples}
}
