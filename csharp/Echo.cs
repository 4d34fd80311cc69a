// echo: a TcpListener bound to the --bind address (default 127.0.0.1, never a wildcard; see ParseBind) with
// listen backlog 1024 (TcpListener.Start()'s default would
// be the OS maximum), one 64 KiB buffer per connection: read up to 64 KiB, write all of it back, and
// only then read again, so a connection never holds more than 64 KiB (backpressure). NoDelay is set on
// every accepted socket. Accepting is one async loop (AcceptSocketAsync) on both runtimes. Each
// runtime then serves a connection on the fastest socket API it has:
//   * .NET: an async method per connection on the Memory<byte> overloads of ReceiveAsync/SendAsync,
//     which return ValueTask and complete without allocating (AwaitableSocketAsyncEventArgs inside).
//   * Mono 6.8: one SocketAsyncEventArgs per connection, reused for every receive and send
//     (SaeaConnection below). Mono's Task-returning socket methods are wrappers over Begin/End that
//     allocate an IAsyncResult, a Task and a continuation per operation, and its Memory<byte>
//     overloads corrupt data (tested: echoed bytes mismatched, and a crash in
//     AwaitableSocketAsyncEventArgs); the event-args API is the path Mono's own socket code is built
//     around. The completion callback runs the next operation itself and loops while operations
//     complete synchronously (no recursion, no task).
//     Mono queues every async socket operation, even one that could complete at once, to its epoll
//     thread and then to a thread-pool worker; .NET, Go, libuv and tokio all try the syscall first.
//     So the socket is non-blocking and each echo is first sent with one plain send(2) (the
//     Socket.Send overload taking a segment list: Mono's byte[] overload loops on EAGAIN, spinning
//     a CPU while the peer does not read), which nearly always takes the whole chunk; only the rest
//     of a partial send (or EAGAIN) goes through SendAsync. Receives always go through
//     ReceiveAsync: in request/response traffic the next message is never there yet, so trying
//     first would only add a failing syscall. (Measured on this machine, server on one CPU: about
//     23 us of server CPU per 64-byte message with SendAsync only, 17-19 us with the send tried
//     first, 24 us for the former Task-based code; noisy, indicative only.)
//
// Shutdown on SIGTERM (and SIGINT) or stdin EOF, then exit 0:
//   * .NET: PosixSignalRegistration, cancelling the default termination.
//   * Mono 6.8: SIGTERM does NOT raise AppDomain.ProcessExit or Console.CancelKeyPress there (tested:
//     the process just dies with status 143), so a background thread waits in
//     Mono.Unix.UnixSignal.WaitAny (Mono.Posix, Debian package libmono-posix4.0-cil).
//   * stdin: a background thread does blocking reads until EOF (a dedicated thread, so the wait does
//     not occupy a thread-pool worker).
using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
#if !NETCOREAPP
using Mono.Unix;
using Mono.Unix.Native;
#endif

namespace AsyncBench
{
    static class Echo
    {
        const int BufferSize = 64 * 1024;
        const int Backlog = 1024;

        // A dotted quad without leading zeros: IPAddress.TryParse alone also takes "127.1", "1" or "0x7f.1".
        static readonly Regex DottedQuad = new Regex(
            @"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])){3}\z",
            RegexOptions.CultureInvariant);

        /// <summary>
        /// Checks --bind (docs/PROTOCOL.md, echo): an IPv4 dotted quad or an IPv6 literal without brackets or
        /// zone, never a host name and never an unspecified address (0.0.0.0, ::, ::ffff:0.0.0.0), which
        /// would listen on every interface. Throws UsageException with the one-line message.
        /// </summary>
        public static IPAddress ParseBind(string text)
        {
            IPAddress ip;
            bool v6 = text.IndexOf(':') >= 0;
            bool ok = text.IndexOf('%') < 0 && text.IndexOf('[') < 0
                && (v6 || DottedQuad.IsMatch(text))
                && IPAddress.TryParse(text, out ip)
                && ip.AddressFamily == (v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork);
            if (!ok || !IPAddress.TryParse(text, out ip))
                throw new UsageException("bad value '" + text + "' for --bind (expected an IPv4 or IPv6 address literal such as 127.0.0.1 or ::1, no brackets, no host name)");
            if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)
                || (ip.IsIPv4MappedToIPv6 && ip.MapToIPv4().Equals(IPAddress.Any)))
                throw new UsageException("--bind " + text + " is a wildcard (every interface); give the one address the clients reach, e.g. 127.0.0.1");
            return ip;
        }

        public static async Task<int> Run(IPAddress bind, int port)
        {
            var listener = new TcpListener(bind, port);
            try
            {
                listener.Start(Backlog);
            }
            catch (SocketException e)
            {
                // e.g. a --bind address this host does not have: one line naming it, exit 1
                Console.Error.WriteLine("asyncbench: echo: cannot listen on " + bind + " port " + port + ": " + e.Message);
                return 1;
            }
            var stop = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            WatchForShutdown(stop);
            Program.Ready("echo").Num("port", ((IPEndPoint)listener.LocalEndpoint).Port).Emit();

            Task accepting = AcceptLoop(listener);
            Task first = await Task.WhenAny(accepting, stop.Task);
            listener.Stop();
            if (first == accepting)
                await accepting; // the accept loop only ends by failing: surface the error
            return 0;
        }

        static async Task AcceptLoop(TcpListener listener)
        {
            while (true)
            {
                Socket socket = await listener.AcceptSocketAsync();
                socket.NoDelay = true;
#if NETCOREAPP
                _ = Serve(socket); // one task per connection; it handles its own errors
#else
                socket.Blocking = false; // SaeaConnection tries each send at once first
                new SaeaConnection(socket, BufferSize).Start();
#endif
            }
        }

#if NETCOREAPP
        static async Task Serve(Socket socket)
        {
            var buf = new byte[BufferSize];
            try
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(buf.AsMemory(), SocketFlags.None);
                    if (n == 0)
                        break; // the peer closed its write side
                    for (int sent = 0; sent < n;)
                        sent += await socket.SendAsync(buf.AsMemory(sent, n - sent), SocketFlags.None);
                }
            }
            catch (SocketException)
            {
                // peer reset or similar: just close this connection
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("echo: connection failed: " + e);
            }
            finally
            {
                socket.Dispose();
            }
        }
#else
        /// <summary>
        /// One connection's echo on a single SocketAsyncEventArgs and its 64 KiB buffer, reused for
        /// every receive and send: receive up to 64 KiB, send bytes [0, received) (in as many sends as
        /// the kernel needs), receive again; close on EOF or error.
        /// </summary>
        sealed class SaeaConnection
        {
            readonly Socket socket;
            readonly SocketAsyncEventArgs args = new SocketAsyncEventArgs();
            readonly int bufferSize;
            readonly ArraySegment<byte>[] chunk = new ArraySegment<byte>[1]; // for the first send attempt
            bool sending;  // the operation in flight: a send (true) or a receive (false)
            int received;  // bytes of the current chunk, all of which must be sent back

            public SaeaConnection(Socket socket, int bufferSize)
            {
                this.socket = socket;
                this.bufferSize = bufferSize;
                args.SetBuffer(new byte[bufferSize], 0, bufferSize);
                args.Completed += OnCompleted;
            }

            public void Start()
            {
                try
                {
                    if (!socket.ReceiveAsync(args))
                        Continue();
                }
                catch (Exception e)
                {
                    Fail(e);
                }
            }

            void OnCompleted(object sender, SocketAsyncEventArgs e)
            {
                try
                {
                    Continue();
                }
                catch (Exception ex)
                {
                    Fail(ex);
                }
            }

            /// <summary>
            /// Handles the operation that just completed and starts the next one; loops for as long as
            /// operations complete synchronously, and returns once one is pending (OnCompleted resumes).
            /// </summary>
            void Continue()
            {
                while (true)
                {
                    bool pending;
                    if (args.SocketError == SocketError.WouldBlock)
                    {
                        // The socket is non-blocking (for the first send attempt), so a readiness
                        // wake-up that finds nothing completes with WouldBlock: just wait again.
                        pending = sending ? socket.SendAsync(args) : socket.ReceiveAsync(args);
                    }
                    else if (args.SocketError != SocketError.Success)
                    {
                        Close(); // peer reset or similar
                        return;
                    }
                    else if (!sending)
                    {
                        received = args.BytesTransferred;
                        if (received == 0)
                        {
                            Close(); // the peer closed its write side and everything is echoed
                            return;
                        }
                        // Send at once if the kernel takes it all (the usual case), else via args.
                        // The segment-list overload makes exactly one send(2); the byte[] overload
                        // would retry on EAGAIN in a busy loop until everything is sent.
                        SocketError error;
                        chunk[0] = new ArraySegment<byte>(args.Buffer, 0, received);
                        int sent = socket.Send(chunk, SocketFlags.None, out error);
                        if (error != SocketError.Success && error != SocketError.WouldBlock)
                        {
                            Close();
                            return;
                        }
                        if (error == SocketError.Success && sent == received)
                        {
                            args.SetBuffer(0, bufferSize);
                            pending = socket.ReceiveAsync(args);
                        }
                        else
                        {
                            sending = true;
                            int from = error == SocketError.Success ? sent : 0; // EAGAIN: nothing sent
                            args.SetBuffer(from, received - from);
                            pending = socket.SendAsync(args);
                        }
                    }
                    else
                    {
                        int next = args.Offset + args.BytesTransferred;
                        if (next < received)
                        {
                            args.SetBuffer(next, received - next); // a partial send: the rest
                            pending = socket.SendAsync(args);
                        }
                        else
                        {
                            sending = false;
                            args.SetBuffer(0, bufferSize);
                            pending = socket.ReceiveAsync(args);
                        }
                    }
                    if (pending)
                        return;
                }
            }

            void Fail(Exception e)
            {
                if (!(e is SocketException || e is ObjectDisposedException))
                    Console.Error.WriteLine("echo: connection failed: " + e);
                Close();
            }

            void Close()
            {
                socket.Dispose();
                args.Dispose();
            }
        }
#endif

#if NETCOREAPP
        // Kept reachable for the life of the process so the handlers stay registered.
        static readonly List<PosixSignalRegistration> Registrations = new List<PosixSignalRegistration>();

        static void WatchForShutdown(TaskCompletionSource<bool> stop)
        {
            Action<PosixSignalContext> handler = ctx =>
            {
                ctx.Cancel = true; // we exit ourselves, with status 0
                stop.TrySetResult(true);
            };
            Registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, handler));
            Registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, handler));
            WatchStdin(stop);
        }
#else
        static void WatchForShutdown(TaskCompletionSource<bool> stop)
        {
            var signals = new[] { new UnixSignal(Signum.SIGTERM), new UnixSignal(Signum.SIGINT) };
            StartBackground("signals", () =>
            {
                UnixSignal.WaitAny(signals, -1);
                stop.TrySetResult(true);
            });
            WatchStdin(stop);
        }
#endif

        static void WatchStdin(TaskCompletionSource<bool> stop)
        {
            StartBackground("stdin-eof", () =>
            {
                try
                {
                    using (var stdin = Console.OpenStandardInput())
                    {
                        var buf = new byte[256];
                        while (stdin.Read(buf, 0, buf.Length) > 0) { }
                    }
                }
                catch (IOException)
                {
                    // an unreadable stdin counts as closed
                }
                stop.TrySetResult(true);
            });
        }

        static void StartBackground(string name, ThreadStart body)
        {
            new Thread(body) { IsBackground = true, Name = name }.Start();
        }
    }
}
