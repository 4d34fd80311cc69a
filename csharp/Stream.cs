// stream: source -> K stages -> sink, each an async method, linked by bounded channels of capacity C.
//
// Channel primitive: on .NET, System.Threading.Channels' Channel.CreateBounded (FullMode = Wait,
// SingleReader/SingleWriter = true since every link has one producer and one consumer) — the idiomatic
// and heavily optimised choice there. Mono 6.8's class library has no System.Threading.Channels (it is a
// NuGet package there, and NuGet is not reachable here), so on Mono the same four calls are served by
// BoundedQueue<T> (BoundedQueue.cs): a lock + Queue<T> + TaskCompletionSource waiters with the same
// semantics (writers wait for space, continuations always run asynchronously, like Channels' default).
// Each runtime thus uses the best bounded channel its platform offers; the pipeline code is identical.
// Both use the WaitToReadAsync/TryRead loop, the Channels idiom that drains whatever is buffered per
// wake-up (ReadAllAsync would need C# 8's await foreach).
//
// Items are a small struct (uint value + timestamp), copied through the channels without boxing.
// Latency stamps: Stopwatch.GetTimestamp() converted to ns (Clock.NowNs, Program.cs); -1 = unsampled.
// --warmup-items W runs one complete, separate pipeline over W items first (same code, no pauses,
// result discarded), so the JIT has compiled the hot paths before the timed run. --min-ms T keeps the
// source going past N items until T ms have passed, stopping on a multiple of 4096 items (the clock is
// read once per 4096 items); the sink takes the end time at item N and at every later multiple of 4096,
// so its last reading is the one at the last item. paused_ms: time the slow-consumer sink spent in its
// Task.Delay awaits, measured around each.
using System.Collections.Generic;
using System.Threading.Tasks;
#if NETCOREAPP
using System.Threading.Channels;
using Reader = System.Threading.Channels.ChannelReader<AsyncBench.Item>;
using Writer = System.Threading.Channels.ChannelWriter<AsyncBench.Item>;
#else
using Reader = AsyncBench.BoundedQueue<AsyncBench.Item>;
using Writer = AsyncBench.BoundedQueue<AsyncBench.Item>;
#endif

namespace AsyncBench
{
    struct Item
    {
        public uint Value;
        public long StampNs;
    }

    static class Streaming
    {
        const long NoStamp = -1;
        const long Step = 4096; // a --min-ms run stops on a multiple of this many items

        sealed class SinkResult
        {
            public long Items;
            public uint Checksum;
            public long EndNs;
            public long PausedNs;
            public List<long> Samples;
        }

        public static async Task<int> Run(long items, int stages, int capacity, bool slowConsumer,
            long pauseEvery, int pauseMs, long sampleEvery, long warmupItems, long minMs)
        {
            Program.Ready("stream").Emit();
            if (warmupItems > 0)
                await Pipeline(warmupItems, stages, capacity, 0, 0, sampleEvery, 0);
            SinkResult result = await Pipeline(items, stages, capacity, slowConsumer ? pauseEvery : 0, pauseMs,
                sampleEvery, minMs * 1000000L);
            new JsonLine("result")
                .Str("workload", "stream")
                .Num("items", result.Items)
                .Num("checksum", result.Checksum)
                .Ms("elapsed_ms", result.EndNs / 1e6)
                .Ms("paused_ms", result.PausedNs / 1e6)
                .Nums("latency_samples_ns", result.Samples)
                .Emit();
            return 0;
        }

        /// <summary>One complete pipeline; EndNs in the result is relative to the source's start.</summary>
        static async Task<SinkResult> Pipeline(long items, int stages, int capacity, long pauseEvery, int pauseMs,
            long sampleEvery, long minNs)
        {
            // Link k feeds stage k+1; link 0 is written by the source, link K is read by the sink.
            var readers = new Reader[stages + 1];
            var writers = new Writer[stages + 1];
            for (int k = 0; k <= stages; k++)
            {
#if NETCOREAPP
                var channel = Channel.CreateBounded<Item>(new BoundedChannelOptions(capacity)
                {
                    FullMode = BoundedChannelFullMode.Wait,
                    SingleReader = true,
                    SingleWriter = true,
                });
                readers[k] = channel.Reader;
                writers[k] = channel.Writer;
#else
                var queue = new BoundedQueue<Item>(capacity);
                readers[k] = queue;
                writers[k] = queue;
#endif
            }

            var others = new Task[stages + 1];
            for (int k = 0; k < stages; k++)
                others[k] = Stage(readers[k], writers[k + 1]);
            long start = Clock.NowNs();
            Task<SinkResult> sink = Sink(readers[stages], items, pauseEvery, pauseMs, sampleEvery, minNs);
            others[stages] = Source(writers[0], items, sampleEvery, start, minNs);

            SinkResult result = await sink;
            await Task.WhenAll(others);
            result.EndNs -= start;
            return result;
        }

        static async Task Source(Writer output, long items, long sampleEvery, long startNs, long minNs)
        {
            for (long seq = 0; minNs > 0 || seq < items; seq++)
            {
                var item = new Item
                {
                    Value = (uint)seq,
                    StampNs = seq % sampleEvery == 0 ? Clock.NowNs() : NoStamp,
                };
                await output.WriteAsync(item);
                long n = seq + 1;
                if (n >= items && (minNs == 0 || (n % Step == 0 && Clock.NowNs() - startNs >= minNs)))
                    break;
            }
            output.Complete();
        }

        static async Task Stage(Reader input, Writer output)
        {
            while (await input.WaitToReadAsync())
            {
                Item item;
                while (input.TryRead(out item))
                {
                    item.Value = item.Value * 1664525u + 1013904223u; // wraps mod 2^32 (unchecked)
                    await output.WriteAsync(item);
                }
            }
            output.Complete();
        }

        static async Task<SinkResult> Sink(Reader input, long items, long pauseEvery, int pauseMs, long sampleEvery,
            long minNs)
        {
            uint h = 2166136261;
            long received = 0;
            long endNs = 0;
            long pausedNs = 0;
            long pausedAtEndNs = 0; // pauses before the last item: a pause after it lies outside elapsed
            var samples = new List<long>((int)System.Math.Min(items / sampleEvery + 1, 1 << 20));
            while (await input.WaitToReadAsync())
            {
                Item item;
                while (input.TryRead(out item))
                {
                    h = (h ^ item.Value) * 16777619u;
                    if (item.StampNs != NoStamp)
                        samples.Add(Clock.NowNs() - item.StampNs);
                    if (++received >= items && (received == items || received % Step == 0))
                    {
                        endNs = Clock.NowNs(); // the last such reading is at the last item
                        pausedAtEndNs = pausedNs;
                    }
                    if (pauseEvery > 0 && received % pauseEvery == 0)
                    {
                        long before = Clock.NowNs();
                        await Task.Delay(pauseMs);
                        pausedNs += Clock.NowNs() - before;
                    }
                }
            }
            if (minNs == 0 && received != items)
                throw new System.InvalidOperationException("sink received " + received + " of " + items + " items");
            if (received == 0)
                endNs = Clock.NowNs();
            return new SinkResult { Items = received, Checksum = h, EndNs = endNs, PausedNs = pausedAtEndNs, Samples = samples };
        }
    }
}
