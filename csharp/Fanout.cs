// fanout: N tasks, each an async method started by calling it (a hot Task, C#'s task primitive: it runs
// synchronously up to its first await and is then resumed by the timer on the thread pool). Each awaits
// Task.Delay(D); all are joined with one Task.WhenAll. No Task.Run: it would only add a needless hop
// to the pool before the timer is armed. `state`: the async method owns a real byte[1024], filled
// before the await and summed after it, so the array is held by the method's state machine (hoisted to
// the heap) across the await, exactly like the other languages' per-task state.
// spawn_ms (docs/PROTOCOL.md): time until every task has armed its timer. Each task counts itself in
// (Interlocked.Increment) right before awaiting Task.Delay and the N-th stores the time. Since a task
// runs synchronously up to that await, here the last arms inside the spawn loop; loop_ms is the loop.
using System.Threading;
using System.Threading.Tasks;

namespace AsyncBench
{
    static class Fanout
    {
        // The arm count of the one run per process, in statics rather than a parameter so that no
        // task's state machine grows by a reference for it.
        static int tasksToArm;
        static int armed;
        static long allArmedNs;

        /// <summary>Called by each task immediately before it awaits its timer.</summary>
        static void Arm()
        {
            if (Interlocked.Increment(ref armed) == tasksToArm)
                Volatile.Write(ref allArmedNs, Clock.NowNs());
        }

        public static async Task<int> Run(int tasks, int sleepMs, bool state)
        {
            Program.Ready("fanout").Emit();

            tasksToArm = tasks;
            armed = 0;
            var running = new Task<long>[tasks];
            long start = Clock.NowNs();
            for (int i = 0; i < tasks; i++)
                running[i] = state ? StateTask(i, sleepMs) : BareTask(i, sleepMs);
            double loopMs = Clock.MsSince(start);

            long[] contributions = await Task.WhenAll(running);
            double totalMs = Clock.MsSince(start);

            long checksum = 0;
            foreach (long c in contributions)
                checksum += c;
            new JsonLine("result")
                .Str("workload", "fanout")
                .Num("tasks", tasks)
                .Num("checksum", checksum)
                .Ms("spawn_ms", (Volatile.Read(ref allArmedNs) - start) / 1e6)
                .Ms("loop_ms", loopMs)
                .Ms("total_ms", totalMs)
                .Emit();
            return 0;
        }

        static async Task<long> BareTask(long i, int sleepMs)
        {
            Arm();
            await Task.Delay(sleepMs);
            return i;
        }

        static async Task<long> StateTask(long i, int sleepMs)
        {
            var buf = new byte[1024];
            for (int j = 0; j < buf.Length; j++)
                buf[j] = (byte)(i + j);
            Arm();
            await Task.Delay(sleepMs);
            long s = 0;
            foreach (byte b in buf)
                s += b;
            return i + s;
        }
    }
}
