// Workload echo: a TCP echo server on the --bind address (default 127.0.0.1; never a wildcard).
//
// One goroutine per connection (the Go idiom: blocking code on the netpoller). Each connection reuses
// one 64 KiB buffer in a plain read/write loop (read up to 64 KiB, write all of it back, read again),
// so at most 64 KiB of a connection is read ahead of what has been written back: that is the
// backpressure bound, and the same 64 KiB every implementation in this project uses.
// Why not io.Copy(c, c)? On Linux it would turn into splice(2) through a 1 MiB kernel pipe per
// connection: a zero-copy kernel path no other implementation here uses, whose buffer memory is
// invisible to the process's RSS. The explicit loop keeps the comparison about the runtime, and it is
// what io.Copy does anyway wherever splice does not apply.
// Listen backlog: net.Listen passes the kernel's net.core.somaxconn (Go has no backlog parameter), so
// after binding the listening socket is put in listen(2) again with 1024, the backlog every
// implementation uses (Linux updates a listening socket's backlog in place; the kernel still caps it
// at somaxconn).
// TCP_NODELAY is Go's default for TCP connections. The server exits 0 on SIGTERM (os/signal) or
// when stdin reaches EOF, whichever comes first.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const (
	echoBufSize = 64 << 10
	echoBacklog = 1024
)

// parseBind checks --bind (docs/PROTOCOL.md, echo): an IPv4 dotted quad or an IPv6 literal without
// brackets or zone, never a host name and never an unspecified address (0.0.0.0, ::, ::ffff:0.0.0.0),
// which would listen on every interface. netip.ParseAddr is the strict parser (no "127.1", no leading
// zeros); it accepts zones, which are refused here like in every other language.
func parseBind(text string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(text)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("bad value %q for --bind (expected an IPv4 or IPv6 address literal such as 127.0.0.1 or ::1, no brackets, no host name)", text)
	}
	if ip.Unmap().IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("--bind %s is a wildcard (every interface); give the one address the clients reach, e.g. 127.0.0.1", text)
	}
	return ip, nil
}

func runEcho(bind netip.Addr, port int) {
	ln, err := listen(bind, port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "asyncbench-go: echo: listen: %v\n", err)
		os.Exit(1)
	}
	ready("echo", ln.Addr().(*net.TCPAddr).Port)

	stop := make(chan struct{}, 2)
	sigterm := make(chan os.Signal, 1)
	signal.Notify(sigterm, syscall.SIGTERM)
	go func() { <-sigterm; stop <- struct{}{} }()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop <- struct{}{} }()

	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// Transient (e.g. EMFILE): report, back off briefly as net/http does, keep serving.
				fmt.Fprintf(os.Stderr, "asyncbench-go: echo: accept: %v\n", err)
				time.Sleep(5 * time.Millisecond)
				continue
			}
			go echoConn(conn)
		}
	}()

	<-stop
	ln.Close()
	os.Exit(0)
}

// listen binds bind:port and sets the listen backlog to echoBacklog.
func listen(bind netip.Addr, port int) (*net.TCPListener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(bind.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	tcp := ln.(*net.TCPListener)
	raw, err := tcp.SyscallConn()
	if err != nil {
		ln.Close()
		return nil, err
	}
	var lerr error
	if err := raw.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), echoBacklog) }); err != nil {
		lerr = err
	}
	if lerr != nil {
		ln.Close()
		return nil, fmt.Errorf("setting backlog %d: %w", echoBacklog, lerr)
	}
	return tcp, nil
}

// echoConn writes back everything it reads until the peer closes its write side (EOF), then closes.
func echoConn(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, echoBufSize)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF: the peer is done; anything else: the connection is gone
		}
	}
}
