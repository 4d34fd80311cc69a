package main

import (
	"testing"
	"time"
)

// Test vectors from docs/PROTOCOL.md.
var streamVectors = []struct {
	n, k int
	want uint32
}{
	{10, 1, 1162576678},
	{1000, 4, 3828873421},
	{100000, 4, 772495653},
}

func TestTransform(t *testing.T) {
	if got := transform(0); got != 1013904223 {
		t.Fatalf("transform(0) = %d, want 1013904223", got)
	}
	// (0xFFFFFFFF * 1664525 + 1013904223) mod 2^32
	if got, want := transform(0xFFFFFFFF), uint32((uint64(0xFFFFFFFF)*1664525+1013904223)%(1<<32)); got != want {
		t.Fatalf("transform(max) = %d, want %d", got, want)
	}
}

func TestChecksumFold(t *testing.T) {
	for _, v := range streamVectors {
		h := fnvOffset
		for seq := range v.n {
			x := uint32(seq)
			for range v.k {
				x = transform(x)
			}
			h = fold(h, x)
		}
		if h != v.want {
			t.Errorf("fold N=%d K=%d = %d, want %d", v.n, v.k, h, v.want)
		}
	}
}

func TestStreamPipeline(t *testing.T) {
	for _, v := range streamVectors {
		for _, slow := range []bool{false, true} {
			c := streamConfig{items: v.n, stages: v.k, capacity: 16, slowConsumer: slow,
				pauseEvery: 25000, pause: time.Millisecond, sampleEvery: 100}
			r := runStream(c)
			if r.Checksum != v.want {
				t.Errorf("stream N=%d K=%d slow=%v checksum = %d, want %d", v.n, v.k, slow, r.Checksum, v.want)
			}
			if want := (v.n + 99) / 100; len(r.LatencySamplesNs) != want {
				t.Errorf("stream N=%d: %d latency samples, want %d", v.n, len(r.LatencySamplesNs), want)
			}
		}
	}
}

func TestFanout(t *testing.T) {
	if r := runFanout(1000, time.Millisecond, false); r.Checksum != 499500 {
		t.Errorf("bare checksum = %d, want 499500", r.Checksum)
	}
	if r := runFanout(1000, time.Millisecond, true); r.Checksum != 131059500 {
		t.Errorf("state checksum = %d, want 131059500", r.Checksum)
	}
}
