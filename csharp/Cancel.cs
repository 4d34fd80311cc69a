// cancel (docs/PROTOCOL.md, issue 16): what giving up costs, and which idioms lose data.
//
// .NET cancels cooperatively: a CancellationTokenSource hands out tokens, APIs that take one register a
// callback on it, and Cancel() runs those callbacks synchronously on the cancelling thread; an awaited
// operation then ends with OperationCanceledException, and cleanup is try/finally (or using).
// * mass: N async methods, each with its own byte[1024], awaiting Task.Delay(1 h, token) on one shared
//   CancellationTokenSource inside try/finally; cancel = cts.Cancel(). The cancelled Delay's await
//   continuation runs inline inside Cancel() (no SynchronizationContext), so Cancel() itself runs the N
//   cleanups; the one whose Interlocked count reaches N records cancel_ms. Then GC.Collect() +
//   WaitForPendingFinalizers() + Collect() before the last phase. Acknowledgements: Console.In.ReadLine().
// * deadline: a TaskCompletionSource per op (RunContinuationsAsynchronously) completed by a responder
//   async method after Task.Delay(d_i) with TrySetResult (a no-op-safe call when nobody waits any more);
//   the worker awaits Task.WhenAny(response, Task.Delay(T, cts.Token)) and cancels the delay's token
//   when the response wins (Task.WaitAsync is .NET 6+, absent on Mono). Every responder is awaited
//   (a count reaching M) after elapsed_ms, so none is running at exit.
// * safety: a bounded channel of 16 (Channel.CreateBounded on .NET, BoundedQueue on Mono: same
//   semantics, see Stream.cs), raced against a 1 ms periodic tick (Ticker below). safe: TryRead, else
//   WaitToReadAsync() raced against the tick; WaitToReadAsync consumes nothing, and its pending task is
//   kept across ticks. unsafe: WhenAny(ReadAsync(), tick) with a fresh ReadAsync() every iteration:
//   a read that lost to the tick is abandoned, not cancelled,
//   and still takes the next item when one arrives, which nobody looks at. Documented in "Task.WhenAny"
//   (the other tasks keep running: "the returned task ... will complete when any of the supplied tasks
//   has completed"; "Consuming the Task-based Asynchronous Pattern", Interleaving / early bailout notes
//   that abandoned operations still run to completion), and in ChannelReader.ReadAsync: without a
//   CancellationToken a pending read can only be satisfied, never withdrawn.
using System;
using System.Threading;
using System.Threading.Tasks;
#if NETCOREAPP
using System.Threading.Channels;
#endif

namespace AsyncBench
{
    static class Cancel
    {
        public sealed class Config
        {
            public string Variant;
            public int Tasks;
            public int Ops;
            public int TimeoutMs;
            public int Concurrency;
            public ulong Seed;
            public int Items;
            public bool Unsafe;
        }

        public static async Task<int> Run(Config c)
        {
            Program.Ready("cancel").Emit();
            if (c.Variant == "mass") await Mass(c.Tasks);
            else if (c.Variant == "deadline") await Deadline(c.Ops, c.Concurrency, c.TimeoutMs, c.Seed);
            else await Safety(c.Items, c.Unsafe);
            return 0;
        }

        /// <summary>The protocol's PRNG (splitmix64); Next() returns x_0, x_1, ...</summary>
        public struct SplitMix64
        {
            ulong state;

            public SplitMix64(ulong seed) { state = seed; }

            public ulong Next()
            {
                unchecked
                {
                    state += 0x9E3779B97F4A7C15UL;
                    ulong z = state;
                    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                    return z ^ (z >> 31);
                }
            }
        }

        /// <summary>late[i] = true when op i's response comes after its timeout (x_i % 4 == 0).</summary>
        public static bool[] LateOps(int m, ulong seed)
        {
            var rng = new SplitMix64(seed);
            var late = new bool[m];
            for (int i = 0; i < m; i++)
                late[i] = rng.Next() % 4 == 0;
            return late;
        }

        static void Phase(string name)
        {
            new JsonLine("phase").Str("phase", name).Emit();
            if (Console.In.ReadLine() == null)
            {
                Console.Error.WriteLine("asyncbench: cancel: stdin closed while waiting for the " + name +
                    " acknowledgement (the harness went away)");
                Environment.Exit(1);
            }
        }

        // mass state: one run per process, in statics so that no task's state machine grows for it.
        static int massTasks, armed, cleanups;
        static long cleanupChecksum, cancelEndNs;
        static TaskCompletionSource<bool> allArmed;

        static async Task Mass(int n)
        {
            Phase("start");
            massTasks = n;
            allArmed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var cts = new CancellationTokenSource();
            var tasks = new Task[n];
            for (int i = 0; i < n; i++)
                tasks[i] = MassTask(i, cts.Token);
            await allArmed.Task;
            Phase("armed");
            long t0 = Clock.NowNs();
            cts.Cancel();
            await Task.WhenAll(tasks);
            double cancelMs = (Volatile.Read(ref cancelEndNs) - t0) / 1e6;
            tasks = null;
            cts.Dispose();
            allArmed = null;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Phase("cancelled");
            new JsonLine("result")
                .Str("workload", "cancel")
                .Str("variant", "mass")
                .Num("tasks", n)
                .Num("cleanups", Volatile.Read(ref cleanups))
                .Num("cleanup_checksum", Interlocked.Read(ref cleanupChecksum))
                .Ms("cancel_ms", cancelMs)
                .Emit();
        }

        static async Task MassTask(int i, CancellationToken token)
        {
            var buf = new byte[1024];
            for (int j = 0; j < buf.Length; j++)
                buf[j] = (byte)(i + j);
            try
            {
                Task delay = Task.Delay(TimeSpan.FromHours(1), token);
                if (Interlocked.Increment(ref armed) == massTasks)
                    allArmed.TrySetResult(true);
                await delay;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            finally
            {
                Interlocked.Add(ref cleanupChecksum, i + buf[1023]);
                if (Interlocked.Increment(ref cleanups) == massTasks)
                    Volatile.Write(ref cancelEndNs, Clock.NowNs());
            }
        }

        // deadline state
        static int ops, responded;
        static long timeouts, responseSum;
        static bool[] late;
        static TaskCompletionSource<bool> allResponded;

        static async Task Deadline(int m, int p, int timeoutMs, ulong seed)
        {
            ops = m;
            late = LateOps(m, seed);
            allResponded = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            int fastMs = Math.Max(timeoutMs / 4, 1), slowMs = 4 * timeoutMs;
            var workers = new Task[Math.Min(p, m)];
            long start = Clock.NowNs();
            for (int w = 0; w < workers.Length; w++)
                workers[w] = Worker(w, m, p, timeoutMs, fastMs, slowMs);
            await Task.WhenAll(workers);
            double elapsedMs = Clock.MsSince(start);
            await allResponded.Task; // every late responder has completed its abandoned slot
            new JsonLine("result")
                .Str("workload", "cancel")
                .Str("variant", "deadline")
                .Num("ops", m)
                .Num("timeouts", Interlocked.Read(ref timeouts))
                .Num("response_sum", Interlocked.Read(ref responseSum))
                .Ms("elapsed_ms", elapsedMs)
                .Emit();
        }

        static async Task Worker(int w, int m, int p, int timeoutMs, int fastMs, int slowMs)
        {
            long myTimeouts = 0, mySum = 0;
            for (int i = w; i < m; i += p)
            {
                var slot = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                _ = Respond(i, late[i] ? slowMs : fastMs, slot);
                using (var cts = new CancellationTokenSource())
                {
                    Task timeout = Task.Delay(timeoutMs, cts.Token);
                    if (await Task.WhenAny(slot.Task, timeout) == slot.Task)
                    {
                        cts.Cancel(); // stops the timer now instead of letting it fire for nobody
                        mySum += slot.Task.Result;
                    }
                    else
                    {
                        myTimeouts++;
                    }
                }
            }
            Interlocked.Add(ref timeouts, myTimeouts);
            Interlocked.Add(ref responseSum, mySum);
        }

        static async Task Respond(long i, int delayMs, TaskCompletionSource<long> slot)
        {
            await Task.Delay(delayMs);
            slot.TrySetResult(i); // harmless when the worker has timed out and gone
            if (Interlocked.Increment(ref responded) == ops)
                allResponded.TrySetResult(true);
        }

#if NETCOREAPP
        sealed class IntChannel
        {
            readonly Channel<int> channel = Channel.CreateBounded<int>(16);
            public Task WriteAsync(int v) { return channel.Writer.WriteAsync(v).AsTask(); }
            public void Complete() { channel.Writer.Complete(); }
            public bool TryRead(out int v) { return channel.Reader.TryRead(out v); }
            public Task<bool> WaitToReadAsync() { return channel.Reader.WaitToReadAsync().AsTask(); }
            /// <summary>Consumes one item; faults with ChannelClosedException once completed and empty.</summary>
            public Task<int> ReadAsync() { return channel.Reader.ReadAsync().AsTask(); }
        }
#else
        sealed class IntChannel
        {
            readonly BoundedQueue<int> queue = new BoundedQueue<int>(16);
            public Task WriteAsync(int v) { return queue.WriteAsync(v); }
            public void Complete() { queue.Complete(); }
            public bool TryRead(out int v) { return queue.TryRead(out v); }
            public Task<bool> WaitToReadAsync() { return queue.WaitToReadAsync(); }

            /// <summary>ChannelReader.ReadAsync's own default implementation: wait, try, repeat.</summary>
            public async Task<int> ReadAsync()
            {
                while (await queue.WaitToReadAsync())
                {
                    int v;
                    if (queue.TryRead(out v)) return v;
                }
                throw new InvalidOperationException("the channel is completed");
            }
        }
#endif

        /// <summary>
        /// A 1 ms ticker: Next is a task that completes at the next tick (ticks nobody waits for are
        /// dropped, like Go's time.Ticker). .NET 6's PeriodicTimer does this but is absent on Mono. A
        /// period, not a fresh Task.Delay(1) per wait, so the tick's phase does not follow the receives
        /// (the same tick as Go's and Node's).
        /// </summary>
        sealed class Ticker : IDisposable
        {
            TaskCompletionSource<bool> next = NewTick();
            readonly Timer timer;

            public Ticker(int periodMs)
            {
                timer = new Timer(_ => Interlocked.Exchange(ref next, NewTick()).TrySetResult(true), null, periodMs, periodMs);
            }

            static TaskCompletionSource<bool> NewTick()
            {
                return new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            public Task Next { get { return Volatile.Read(ref next).Task; } }

            public void Dispose() { timer.Dispose(); }
        }

        static async Task Safety(int k, bool unsafeIdiom)
        {
            var channel = new IntChannel();
            Task producer = Produce(channel, k);
            long received = 0, checksum = 0, ticks = 0;
            using (var ticker = new Ticker(1))
            {
                Task tick = ticker.Next;
                if (!unsafeIdiom)
                {
                    Task<bool> waiting = null; // kept across ticks; WaitToReadAsync consumes nothing
                    while (true)
                    {
                        int v;
                        if (channel.TryRead(out v))
                        {
                            received++;
                            checksum += v;
                            continue;
                        }
                        if (waiting == null) waiting = channel.WaitToReadAsync();
                        if (await Task.WhenAny(waiting, tick) == tick)
                        {
                            ticks++;
                            tick = ticker.Next;
                            continue;
                        }
                        bool more = waiting.Result;
                        waiting = null;
                        if (!more) break;
                    }
                }
                else
                {
                    while (true)
                    {
                        Task<int> read = channel.ReadAsync(); // UNSAFE: abandoned below whenever the tick wins
                        if (await Task.WhenAny(read, tick) == tick)
                        {
                            ticks++;
                            tick = ticker.Next;
                            continue;
                        }
                        if (read.IsFaulted) break; // completed and empty
                        received++;
                        checksum += read.Result;
                    }
                }
            }
            await producer;
            new JsonLine("result")
                .Str("workload", "cancel")
                .Str("variant", "safety")
                .Str("idiom", unsafeIdiom ? "unsafe" : "safe")
                .Num("items", k)
                .Num("received", received)
                .Num("checksum", checksum)
                .Num("ticks", ticks)
                .Emit();
        }

        /// <summary>The producer sleeps SafetyPauseMs after every SafetyBurst writes (odd, and longer
        /// than the 1 ms tick, as in every language: docs/PROTOCOL.md, "variant safety").</summary>
        const int SafetyBurst = 63;
        const int SafetyPauseMs = 2;

        static async Task Produce(IntChannel channel, int k)
        {
            for (int v = 0; v < k; v++)
            {
                await channel.WriteAsync(v);
                if ((v + 1) % SafetyBurst == 0) await Task.Delay(SafetyPauseMs);
            }
            channel.Complete();
        }
    }
}
