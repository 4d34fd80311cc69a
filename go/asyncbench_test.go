package main

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
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

// referenceChecksum folds seq = 0..n-1 through k transforms, the harness's expected checksum.
func referenceChecksum(n, k int) uint32 {
	h := fnvOffset
	for seq := range n {
		x := uint32(seq)
		for range k {
			x = transform(x)
		}
		h = fold(h, x)
	}
	return h
}

func TestStreamMinDurationStopsOnAStepAfterT(t *testing.T) {
	c := streamConfig{items: 1000, stages: 2, capacity: 8, pauseEvery: 1, sampleEvery: 1000,
		minDuration: 30 * time.Millisecond}
	r := runStream(c)
	if r.Items < 1000 || r.Items%lengthStep != 0 {
		t.Fatalf("items = %d, want >= 1000 and a multiple of %d", r.Items, lengthStep)
	}
	if r.ElapsedMs < 30 {
		t.Errorf("elapsed_ms = %v, want >= 30 (--min-ms)", r.ElapsedMs)
	}
	if want := referenceChecksum(r.Items, 2); r.Checksum != want {
		t.Errorf("checksum over %d items = %d, want %d", r.Items, r.Checksum, want)
	}
	if want := (r.Items + 999) / 1000; len(r.LatencySamplesNs) != want {
		t.Errorf("%d latency samples, want %d", len(r.LatencySamplesNs), want)
	}
}

func TestStreamWarmupIsNotReported(t *testing.T) {
	c := streamConfig{items: 1000, stages: 4, capacity: 8, pauseEvery: 1, sampleEvery: 10, warmupItems: 3000}
	r := runStream(c)
	if r.Items != 1000 || r.Checksum != 3828873421 || len(r.LatencySamplesNs) != 100 {
		t.Errorf("after warm-up: items %d checksum %d samples %d, want 1000, 3828873421, 100",
			r.Items, r.Checksum, len(r.LatencySamplesNs))
	}
}

func TestStreamPausedMs(t *testing.T) {
	c := streamConfig{items: 10000, stages: 1, capacity: 8, slowConsumer: true, pauseEvery: 1000,
		pause: 3 * time.Millisecond, sampleEvery: 1000}
	r := runStream(c)
	// 10 pauses of 3 ms; the one after the last item lies outside elapsed_ms and is not counted.
	if r.PausedMs < 27 || r.PausedMs > r.ElapsedMs {
		t.Errorf("paused_ms = %v after 9 counted pauses of 3 ms, want >= 27 and <= elapsed %v", r.PausedMs, r.ElapsedMs)
	}
	if b := runStream(streamConfig{items: 1000, stages: 1, capacity: 8, pauseEvery: 1, sampleEvery: 1}); b.PausedMs != 0 {
		t.Errorf("balanced paused_ms = %v, want 0", b.PausedMs)
	}
}

func TestFanout(t *testing.T) {
	for _, state := range []bool{false, true} {
		want := uint64(499500)
		if state {
			want = 131059500
		}
		r := runFanout(1000, 20*time.Millisecond, state)
		if r.Checksum != want {
			t.Errorf("state=%v checksum = %d, want %d", state, r.Checksum, want)
		}
		// spawn_ms is stored by the task that arms last: 0 would mean no task reached the count.
		if !(r.SpawnMs > 0 && r.SpawnMs <= r.TotalMs && r.LoopMs <= r.TotalMs) {
			t.Errorf("state=%v spawn_ms %v loop_ms %v total_ms %v: want 0 < spawn <= total, loop <= total",
				state, r.SpawnMs, r.LoopMs, r.TotalMs)
		}
		if r.TotalMs < 20 {
			t.Errorf("state=%v total_ms %v < the 20 ms sleep", state, r.TotalMs)
		}
	}
}

// The --bind vectors of docs/PROTOCOL.md (echo), the same in every language's tests.
func TestParseBind(t *testing.T) {
	for _, good := range []string{"127.0.0.1", "10.1.2.3", "::1", "fe80::1", "2001:db8::10"} {
		ip, err := parseBind(good)
		if err != nil || ip != netip.MustParseAddr(good) {
			t.Errorf("parseBind(%q) = %v, %v", good, ip, err)
		}
	}
	for _, wildcard := range []string{"0.0.0.0", "::", "0:0::0", "::ffff:0.0.0.0"} {
		if _, err := parseBind(wildcard); err == nil || !strings.Contains(err.Error(), "wildcard") {
			t.Errorf("parseBind(%q) accepted a wildcard (err %v)", wildcard, err)
		}
	}
	for _, bad := range []string{"", "localhost", "[::1]", "::1%lo", "127.1", "127.0.0.01", "1.2.3.4.5", "127.0.0.1:80"} {
		if _, err := parseBind(bad); err == nil || !strings.Contains(err.Error(), "--bind") {
			t.Errorf("parseBind(%q) accepted a bad value (err %v)", bad, err)
		}
	}
}

// Bound to 127.0.0.2, the listener is not reachable on 127.0.0.1 (what the harness's verify checks).
func TestEchoListensOnTheBindAddressOnly(t *testing.T) {
	ln, err := listen(netip.MustParseAddr("127.0.0.2"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.Equal(net.IPv4(127, 0, 0, 2)) {
		t.Fatalf("bound %v, want 127.0.0.2", addr)
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatalf("connect to %v: %v", addr, err)
	}
	c.Close()
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port))); err == nil {
		c.Close()
		t.Fatalf("listening on 127.0.0.1:%d too", addr.Port)
	}
}

func TestEchoBacklogAndBackpressure(t *testing.T) {
	ln, err := listen(netip.MustParseAddr("127.0.0.1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echoConn(c)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 8 MiB written while the reader waits a moment: the server blocks in Write, stops reading, and
	// must still echo every byte in order.
	payload := make([]byte, 8<<20)
	for i := range payload {
		payload[i] = byte(i % 251)
	}
	go func() { conn.Write(payload); conn.(*net.TCPConn).CloseWrite() }()
	time.Sleep(100 * time.Millisecond)
	got, err := io.ReadAll(conn)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d of %d bytes (err %v), or they differ", len(got), len(payload), err)
	}
}
