// fanout: N tasks, each an async method started by calling it (a hot Task, C#'s task primitive: it runs
// synchronously up to its first await and is then resumed by the timer on the thread pool). Each awaits
// Task.Delay(D); all are joined with one Task.WhenAll. No Task.Run: it would only add a needless hop
// to the pool before the timer is armed. `state`: the async method owns a real byte[1024], filled
// before the await and summed after it, so the array is held by the method's state machine (hoisted to
// the heap) across the await, exactly like the other languages' per-task state.
using System.Threading.Tasks;

namespace AsyncBench
{
    static class Fanout
    {
        public static async Task<int> Run(int tasks, int sleepMs, bool state)
        {
            Program.Ready("fanout").Emit();

            var running = new Task<long>[tasks];
            long start = Clock.NowNs();
            for (int i = 0; i < tasks; i++)
                running[i] = state ? StateTask(i, sleepMs) : BareTask(i, sleepMs);
            double spawnMs = Clock.MsSince(start);

            long[] contributions = await Task.WhenAll(running);
            double totalMs = Clock.MsSince(start);

            long checksum = 0;
            foreach (long c in contributions)
                checksum += c;
            new JsonLine("result")
                .Str("workload", "fanout")
                .Num("tasks", tasks)
                .Num("checksum", checksum)
                .Ms("spawn_ms", spawnMs)
                .Ms("total_ms", totalMs)
                .Emit();
            return 0;
        }

        static async Task<long> BareTask(long i, int sleepMs)
        {
            await Task.Delay(sleepMs);
            return i;
        }

        static async Task<long> StateTask(long i, int sleepMs)
        {
            var buf = new byte[1024];
            for (int j = 0; j < buf.Length; j++)
                buf[j] = (byte)(i + j);
            await Task.Delay(sleepMs);
            long s = 0;
            foreach (byte b in buf)
                s += b;
            return i + s;
        }
    }
}
