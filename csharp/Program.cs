// asyncbench — C# implementation: entry point, argument parsing and JSON-line output.
//
// One source tree, two runtimes (docs/PROTOCOL.md, manifest/csharp.toml):
//   * .NET 8 (`dotnet build` of asyncbench.csproj, preferred when an SDK is present), and
//   * Mono 6.8 (`mcs`, Debian's packages), whose class library lacks System.Threading.Channels and
//     PosixSignalRegistration; the two spots that differ are behind `#if NETCOREAPP`.
// The language level is C# 7.2 on both (mcs's ceiling), hence a synchronous Main that blocks on
// MainAsync().GetAwaiter().GetResult() instead of `async Task Main`.
//
// Scheduling: plain async/await on the default thread pool, no SynchronizationContext, no custom
// scheduler, no SetMinThreads. `threads` in the ready line is Environment.ProcessorCount, which is the
// pool's default minimum worker count on both runtimes (the pool may inject more workers beyond it when
// it sees blocking, up to its maximum); the pool's min/max are reported as extra fields.
// GC: each runtime's default (Mono: SGen, .NET: workstation concurrent); see manifest/csharp.toml.
// System.Text.Json does not exist on Mono, so the few JSON lines are written by hand (invariant
// culture) straight to the stdout stream, flushed per line. Diagnostics go to stderr only.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace AsyncBench
{
    sealed class UsageException : Exception
    {
        public UsageException(string message) : base(message) { }
    }

    /// <summary>Parsed `--name value` flags of one workload, with defaults for running by hand.</summary>
    sealed class Flags
    {
        readonly string workload;
        readonly Dictionary<string, string> values;

        Flags(string workload, Dictionary<string, string> values)
        {
            this.workload = workload;
            this.values = values;
        }

        public static Flags Parse(string workload, string[] args, Dictionary<string, string> defaults)
        {
            var values = new Dictionary<string, string>(defaults);
            for (int i = 1; i < args.Length; i += 2)
            {
                string arg = args[i];
                if (!arg.StartsWith("--", StringComparison.Ordinal) || !defaults.ContainsKey(arg.Substring(2)))
                    throw new UsageException("unknown flag for workload " + workload + ": " + arg);
                if (i + 1 >= args.Length)
                    throw new UsageException("missing value for " + arg);
                values[arg.Substring(2)] = args[i + 1];
            }
            return new Flags(workload, values);
        }

        public long Int(string name, long min, long max)
        {
            long v;
            if (!long.TryParse(values[name], NumberStyles.None, CultureInfo.InvariantCulture, out v) || v < min || v > max)
                throw new UsageException("bad value for --" + name + ": '" + values[name] + "' (expected an integer in " + min + ".." + max + ")");
            return v;
        }

        public ulong UInt64(string name)
        {
            ulong v;
            if (!ulong.TryParse(values[name], NumberStyles.None, CultureInfo.InvariantCulture, out v))
                throw new UsageException("bad value for --" + name + ": '" + values[name] + "' (expected an integer in 0.." + ulong.MaxValue + ")");
            return v;
        }

        public string Choice(string name, params string[] allowed)
        {
            string v = values[name];
            if (Array.IndexOf(allowed, v) < 0)
                throw new UsageException("bad value for --" + name + ": '" + v + "' (expected " + string.Join("|", allowed) + ")");
            return v;
        }

        public string Str(string name) { return values[name]; }

        public string Workload { get { return workload; } }
    }

    /// <summary>One JSON object per line on stdout, flushed immediately.</summary>
    sealed class JsonLine
    {
        static readonly Stream Stdout = Console.OpenStandardOutput();
        static readonly object StdoutLock = new object();
        readonly StringBuilder sb = new StringBuilder(128);

        public JsonLine(string evt)
        {
            sb.Append('{');
            Str("event", evt);
        }

        JsonLine Key(string key)
        {
            if (sb.Length > 1) sb.Append(',');
            Quote(key);
            sb.Append(':');
            return this;
        }

        void Quote(string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') sb.Append('\\').Append(c);
                else if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append(c);
            }
            sb.Append('"');
        }

        public JsonLine Str(string key, string value) { Key(key).Quote(value); return this; }

        public JsonLine Num(string key, long value)
        {
            Key(key).sb.Append(value.ToString(CultureInfo.InvariantCulture));
            return this;
        }

        public JsonLine Ms(string key, double value)
        {
            Key(key).sb.Append(value.ToString("0.###", CultureInfo.InvariantCulture));
            return this;
        }

        public JsonLine Nums(string key, List<long> values)
        {
            Key(key).sb.Append('[');
            for (int i = 0; i < values.Count; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append(values[i].ToString(CultureInfo.InvariantCulture));
            }
            sb.Append(']');
            return this;
        }

        public void Emit()
        {
            sb.Append("}\n");
            byte[] bytes = new UTF8Encoding(false).GetBytes(sb.ToString());
            lock (StdoutLock)
            {
                Stdout.Write(bytes, 0, bytes.Length);
                Stdout.Flush();
            }
        }
    }

    static class Clock
    {
        // Stopwatch ticks are 1 ns on .NET/Linux and 100 ns on Mono/Linux; both divide 1e9 exactly.
        static readonly long NsPerTick = 1000000000L / Stopwatch.Frequency;
        static readonly double NsPerTickF = 1e9 / Stopwatch.Frequency;
        static readonly bool Exact = 1000000000L % Stopwatch.Frequency == 0;

        /// <summary>Monotonic time in nanoseconds.</summary>
        public static long NowNs()
        {
            long t = Stopwatch.GetTimestamp();
            return Exact ? t * NsPerTick : (long)(t * NsPerTickF);
        }

        public static double MsSince(long startNs) { return (NowNs() - startNs) / 1e6; }
    }

    static class Program
    {
        static int Main(string[] args)
        {
            try
            {
                return MainAsync(args).GetAwaiter().GetResult();
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine("asyncbench: " + e.Message);
                return 2;
            }
        }

        static Task<int> MainAsync(string[] args)
        {
            if (args.Length == 0)
                throw new UsageException("usage: asyncbench <echo|fanout|stream|cancel> [--flag value]...");
            string workload = args[0];
            switch (workload)
            {
                case "echo":
                {
                    var f = Flags.Parse(workload, args, new Dictionary<string, string> { { "port", "0" }, { "bind", "127.0.0.1" } });
                    int port = (int)f.Int("port", 0, 65535);
                    return Echo.Run(Echo.ParseBind(f.Str("bind")), port);
                }
                case "fanout":
                {
                    var f = Flags.Parse(workload, args, new Dictionary<string, string>
                    {
                        { "tasks", "10000" }, { "sleep-ms", "1000" }, { "variant", "bare" },
                    });
                    return Fanout.Run(
                        (int)f.Int("tasks", 1, int.MaxValue),
                        (int)f.Int("sleep-ms", 0, int.MaxValue),
                        f.Choice("variant", "bare", "state") == "state");
                }
                case "stream":
                {
                    var f = Flags.Parse(workload, args, new Dictionary<string, string>
                    {
                        { "items", "100000" }, { "stages", "4" }, { "capacity", "128" },
                        { "variant", "balanced" }, { "pause-every", "10000" }, { "pause-ms", "10" },
                        { "sample-every", "1000" }, { "warmup-items", "0" }, { "min-ms", "0" },
                    });
                    bool slow = f.Choice("variant", "balanced", "slow-consumer") == "slow-consumer";
                    return Streaming.Run(
                        f.Int("items", 0, 1L << 32),
                        (int)f.Int("stages", 1, 100000),
                        (int)f.Int("capacity", 1, int.MaxValue),
                        slow,
                        f.Int("pause-every", slow ? 1 : 0, long.MaxValue),
                        (int)f.Int("pause-ms", 0, int.MaxValue),
                        f.Int("sample-every", 1, long.MaxValue),
                        f.Int("warmup-items", 0, 1L << 32),
                        f.Int("min-ms", 0, int.MaxValue));
                }
                case "cancel":
                {
                    var f = Flags.Parse(workload, args, new Dictionary<string, string>
                    {
                        { "variant", "mass" }, { "tasks", "10000" }, { "ops", "100000" }, { "timeout-ms", "20" },
                        { "concurrency", "1000" }, { "seed", "1" }, { "items", "20000" }, { "idiom", "safe" },
                    });
                    return Cancel.Run(new Cancel.Config
                    {
                        Variant = f.Choice("variant", "mass", "deadline", "safety"),
                        Tasks = (int)f.Int("tasks", 1, int.MaxValue),
                        Ops = (int)f.Int("ops", 1, int.MaxValue),
                        TimeoutMs = (int)f.Int("timeout-ms", 1, int.MaxValue / 4),
                        Concurrency = (int)f.Int("concurrency", 1, int.MaxValue),
                        Seed = f.UInt64("seed"),
                        Items = (int)f.Int("items", 0, int.MaxValue),
                        Unsafe = f.Choice("idiom", "safe", "unsafe") == "unsafe",
                    });
                }
                default:
                    throw new UsageException("unknown workload: " + workload + " (expected echo|fanout|stream|cancel)");
            }
        }

        /// <summary>The `ready` line with the fields every workload shares.</summary>
        public static JsonLine Ready(string workload)
        {
            int minWorkers, minIo, maxWorkers, maxIo;
            ThreadPool.GetMinThreads(out minWorkers, out minIo);
            ThreadPool.GetMaxThreads(out maxWorkers, out maxIo);
            return new JsonLine("ready")
                .Str("workload", workload)
                .Str("runtime", RuntimeName())
                .Num("threads", Environment.ProcessorCount)
                .Str("threads_source", "Environment.ProcessorCount (= thread-pool minimum workers)")
                .Num("pool_min_workers", minWorkers)
                .Num("pool_max_workers", maxWorkers);
        }

        static string RuntimeName()
        {
            Type mono = Type.GetType("Mono.Runtime");
            if (mono != null)
            {
                MethodInfo name = mono.GetMethod("GetDisplayName", BindingFlags.NonPublic | BindingFlags.Static);
                string display = name != null ? (string)name.Invoke(null, null) : "unknown";
                // "6.8.0.105 (Debian 6.8.0.105+dfsg-3.3+deb12u1 ...)" -> "Mono 6.8.0.105"
                int space = display.IndexOf(' ');
                return "Mono " + (space > 0 ? display.Substring(0, space) : display);
            }
            return RuntimeInformation.FrameworkDescription; // e.g. ".NET 8.0.11"
        }
    }
}
