package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// Test vectors from docs/PROTOCOL.md (workload cancel).
func TestSplitmix64Vectors(t *testing.T) {
	rng := splitmix64{1}
	if x := rng.next(); x != 0x910A2DEC89025CC1 {
		t.Fatalf("x_0 = %#x, want 0x910A2DEC89025CC1", x)
	}
	if x := rng.next(); x != 0xBEEB8DA1658EEC67 {
		t.Fatalf("x_1 = %#x, want 0xBEEB8DA1658EEC67", x)
	}
}

// expectedDeadline is what the harness checks: X = #{i : x_i % 4 == 0}, Y = Σ i over the others.
func expectedDeadline(m int, timeout time.Duration, seed uint64) (timeouts int64, sum uint64) {
	for i, d := range responseDelays(m, timeout, seed) {
		if d > timeout {
			timeouts++
		} else {
			sum += uint64(i)
		}
	}
	return
}

func TestDeadlineDelaysMatchTheProtocolVector(t *testing.T) {
	x, y := expectedDeadline(100000, 20*time.Millisecond, 1)
	if x != 25009 || y != 3749933481 {
		t.Fatalf("S=1 M=100000: X=%d Y=%d, want X=25009 Y=3749933481", x, y)
	}
	d := responseDelays(4, 3*time.Millisecond, 1) // T/4 rounds down to 0 and is raised to 1 ms
	for _, v := range d {
		if v != time.Millisecond && v != 12*time.Millisecond {
			t.Fatalf("T=3: delay %v, want 1ms or 12ms", v)
		}
	}
}

func TestDeadlineRaces(t *testing.T) {
	// A wide margin (response at 250 ms, timeout at 1 s) so a loaded test machine cannot flip a race:
	// 100 ms lost an op in Node's twin of this test at load average 10 on 2 CPUs.
	const m, timeout = 1000, 1000 * time.Millisecond
	r := runCancelDeadline(m, 200, timeout, 7)
	wantX, wantY := expectedDeadline(m, timeout, 7)
	if r.Timeouts != wantX || r.ResponseSum != wantY || r.Ops != m {
		t.Fatalf("got %+v, want timeouts=%d response_sum=%d", r, wantX, wantY)
	}
}

func TestMassCancelRunsEveryCleanupOnce(t *testing.T) {
	const n = 1000
	acks := bufio.NewReader(strings.NewReader("continue\ncontinue\ncontinue\n"))
	r := runCancelMass(n, acks)
	if r.Cleanups != n || r.CleanupChecksum != 624240 || r.CancelMs <= 0 {
		t.Fatalf("got %+v, want cleanups=%d cleanup_checksum=624240", r, n)
	}
	if _, err := acks.ReadByte(); err == nil {
		t.Fatalf("mass left an acknowledgement unread (it reads one per phase: start, armed, cancelled)")
	}
}

func TestSafetyChecksumIsExact(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		const k = 3000
		r := runCancelSafety(k, unsafe)
		if r.Received != k || r.Checksum != k*(k-1)/2 {
			t.Fatalf("unsafe=%v: got %+v, want received=%d checksum=%d", unsafe, r, k, k*(k-1)/2)
		}
		if unsafe != (r.IdiomNote != "") {
			t.Fatalf("unsafe=%v: idiom_note %q", unsafe, r.IdiomNote)
		}
	}
}
