// asyncbench-go: the Go implementation of docs/PROTOCOL.md (workloads echo, fanout, stream, cancel).
//
// Runtime: the Go scheduler as shipped (goroutines on GOMAXPROCS OS threads; GOMAXPROCS left at its
// default, which is the number of CPUs in the process's affinity mask, capped since Go 1.25 by the
// cgroup CPU limit; so `threads` is 1 when the harness pins the server to one CPU). No GOGC or
// GOMEMLIMIT tuning: the default GC (GOGC=100) is what a Go program gets, and it is reported as-is.
// Standard library only. Flags are parsed with the standard flag package (which also accepts
// -name and --name=value; the harness always passes --name value). Every stdout line is one JSON
// object written by encoding/json straight to the unbuffered os.Stdout, so each line is one write(2)
// and nothing is left unflushed at exit; diagnostics go to stderr.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// out is the JSON-lines writer for stdout. Encode appends the newline.
var out = json.NewEncoder(os.Stdout)

func emit(v any) {
	if err := out.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "asyncbench-go: writing stdout: %v\n", err)
		os.Exit(1)
	}
}

type readyEvent struct {
	Event    string `json:"event"`
	Workload string `json:"workload"`
	Port     int    `json:"port,omitempty"`
	Runtime  string `json:"runtime"`
	Threads  int    `json:"threads"`
}

func ready(workload string, port int) {
	emit(readyEvent{Event: "ready", Workload: workload, Port: port,
		Runtime: runtime.Version(), Threads: runtime.GOMAXPROCS(0)})
}

// ms converts a duration to fractional milliseconds for the result lines.
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// usage prints one line to stderr and exits 2, as the protocol requires for bad usage.
func usage(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "asyncbench-go: "+format+"\n", args...)
	os.Exit(2)
}

// parse parses args with fs, turning any error into a one-line usage failure.
func parse(fs *flag.FlagSet, args []string) {
	fs.SetOutput(io.Discard) // the flag package would print a multi-line usage text
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage("usage: asyncbench-go %s [--flag value]...", fs.Name())
		}
		usage("%s: %v", fs.Name(), err)
	}
	if fs.NArg() != 0 {
		usage("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
}

func check(ok bool, format string, args ...any) {
	if !ok {
		usage(format, args...)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage("usage: asyncbench-go echo|fanout|stream|cancel [--flag value]...")
	}
	workload, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(workload, flag.ContinueOnError)
	switch workload {
	case "echo":
		port := fs.Int("port", 0, "TCP port (0 = any free port)")
		bindText := fs.String("bind", "127.0.0.1", "the one address to listen on (an IP literal, never a wildcard)")
		parse(fs, args)
		check(*port >= 0 && *port <= 65535, "echo: --port must be in 0..65535, got %d", *port)
		bind, err := parseBind(*bindText)
		if err != nil {
			usage("echo: %v", err)
		}
		runEcho(bind, *port)
	case "fanout":
		tasks := fs.Int("tasks", 1000, "number of tasks (>= 1)")
		sleepMs := fs.Int("sleep-ms", 1000, "timer each task awaits, in ms (>= 0)")
		variant := fs.String("variant", "bare", "bare|state")
		parse(fs, args)
		check(*tasks >= 1, "fanout: --tasks must be >= 1, got %d", *tasks)
		check(*sleepMs >= 0, "fanout: --sleep-ms must be >= 0, got %d", *sleepMs)
		check(*variant == "bare" || *variant == "state", "fanout: --variant must be bare or state, got %q", *variant)
		ready("fanout", 0)
		emit(runFanout(*tasks, time.Duration(*sleepMs)*time.Millisecond, *variant == "state"))
	case "stream":
		var c streamConfig
		fs.IntVar(&c.items, "items", 1000000, "number of items (>= 0)")
		fs.IntVar(&c.stages, "stages", 4, "transform stages (>= 1)")
		fs.IntVar(&c.capacity, "capacity", 128, "capacity of every channel (>= 1)")
		variant := fs.String("variant", "balanced", "balanced|slow-consumer")
		fs.IntVar(&c.pauseEvery, "pause-every", 10000, "slow-consumer: pause after every M-th item (>= 1)")
		pauseMs := fs.Int("pause-ms", 10, "slow-consumer: pause length in ms (>= 0)")
		fs.IntVar(&c.sampleEvery, "sample-every", 1000, "stamp every S-th item for latency (>= 1)")
		fs.IntVar(&c.warmupItems, "warmup-items", 0, "items of an untimed warm-up pipeline run first (>= 0)")
		minMs := fs.Int("min-ms", 0, "keep producing past --items until this many ms have passed (>= 0)")
		parse(fs, args)
		check(c.items >= 0 && c.items <= 1<<32, "stream: --items must be in 0..2^32, got %d", c.items)
		check(c.stages >= 1, "stream: --stages must be >= 1, got %d", c.stages)
		check(c.capacity >= 1, "stream: --capacity must be >= 1, got %d", c.capacity)
		check(*variant == "balanced" || *variant == "slow-consumer", "stream: --variant must be balanced or slow-consumer, got %q", *variant)
		check(c.pauseEvery >= 1, "stream: --pause-every must be >= 1, got %d", c.pauseEvery)
		check(*pauseMs >= 0, "stream: --pause-ms must be >= 0, got %d", *pauseMs)
		check(c.sampleEvery >= 1, "stream: --sample-every must be >= 1, got %d", c.sampleEvery)
		check(c.warmupItems >= 0 && c.warmupItems <= 1<<32, "stream: --warmup-items must be in 0..2^32, got %d", c.warmupItems)
		check(*minMs >= 0, "stream: --min-ms must be >= 0, got %d", *minMs)
		c.minDuration = time.Duration(*minMs) * time.Millisecond
		c.slowConsumer = *variant == "slow-consumer"
		c.pause = time.Duration(*pauseMs) * time.Millisecond
		ready("stream", 0)
		emit(runStream(c))
	case "cancel":
		variant := fs.String("variant", "mass", "mass|deadline|safety")
		tasks := fs.Int("tasks", 10000, "mass: number of tasks (>= 1)")
		ops := fs.Int("ops", 100000, "deadline: number of request/timeout races (>= 1)")
		timeoutMs := fs.Int("timeout-ms", 20, "deadline: timeout of each op in ms (>= 1)")
		concurrency := fs.Int("concurrency", 1000, "deadline: ops in flight (>= 1)")
		seed := fs.Uint64("seed", 1, "deadline: splitmix64 seed")
		items := fs.Int("items", 20000, "safety: items sent through the channel (>= 0)")
		idiom := fs.String("idiom", "safe", "safety: safe|unsafe")
		parse(fs, args)
		check(*variant == "mass" || *variant == "deadline" || *variant == "safety", "cancel: --variant must be mass, deadline or safety, got %q", *variant)
		check(*tasks >= 1, "cancel: --tasks must be >= 1, got %d", *tasks)
		check(*ops >= 1, "cancel: --ops must be >= 1, got %d", *ops)
		check(*timeoutMs >= 1, "cancel: --timeout-ms must be >= 1, got %d", *timeoutMs)
		check(*concurrency >= 1, "cancel: --concurrency must be >= 1, got %d", *concurrency)
		check(*items >= 0, "cancel: --items must be >= 0, got %d", *items)
		check(*idiom == "safe" || *idiom == "unsafe", "cancel: --idiom must be safe or unsafe, got %q", *idiom)
		ready("cancel", 0)
		switch *variant {
		case "mass":
			emit(runCancelMass(*tasks, bufio.NewReader(os.Stdin)))
		case "deadline":
			emit(runCancelDeadline(*ops, *concurrency, time.Duration(*timeoutMs)*time.Millisecond, *seed))
		default:
			emit(runCancelSafety(*items, *idiom == "unsafe"))
		}
	default:
		usage("unknown workload %q (expected echo, fanout, stream or cancel)", workload)
	}
}
