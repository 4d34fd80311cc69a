// echo: a TcpListener bound to 127.0.0.1, one async task per accepted connection (an async method that
// is started and not awaited), raw Socket ReceiveAsync/SendAsync on a 16 KiB byte[] owned by that task
// and reused for every read. On .NET the Memory<byte> overloads (ValueTask, allocation-free); on Mono
// the ArraySegment ones, because Mono 6.8's Memory<byte> socket overloads corrupt data (tested: echoed
// bytes mismatched, and a crash in AwaitableSocketAsyncEventArgs). The task reads at most one buffer,
// writes all of it back, and only then reads again, so a connection never holds more than 16 KiB
// (backpressure). NoDelay is set on every accepted socket. Listen backlog: TcpListener.Start()'s
// default (the OS maximum, somaxconn).
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
        const int BufferSize = 16 * 1024;

        public static async Task<int> Run(int port)
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
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
                _ = Serve(socket); // one task per connection; it handles its own errors
            }
        }

        static async Task Serve(Socket socket)
        {
            var buf = new byte[BufferSize];
            try
            {
                while (true)
                {
#if NETCOREAPP
                    int n = await socket.ReceiveAsync(buf.AsMemory(), SocketFlags.None);
#else
                    int n = await socket.ReceiveAsync(new ArraySegment<byte>(buf), SocketFlags.None);
#endif
                    if (n == 0)
                        break; // the peer closed its write side
                    for (int sent = 0; sent < n;)
                    {
#if NETCOREAPP
                        sent += await socket.SendAsync(buf.AsMemory(sent, n - sent), SocketFlags.None);
#else
                        sent += await socket.SendAsync(new ArraySegment<byte>(buf, sent, n - sent), SocketFlags.None);
#endif
                    }
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
