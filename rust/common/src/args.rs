//! The protocol's command line: `<workload> [--flag value]...` (docs/PROTOCOL.md, "Invocation").
//!
//! Flags are `--name value` pairs only; a repeated flag takes its last value. Any error is one line
//! on stderr and exit status 2 ([`from_env`], [`usage_error`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    Echo(Echo),
    Fanout(Fanout),
    Stream(Stream),
    Cancel(Cancel),
}

impl Workload {
    /// The workload name as given on the command line (and echoed in every event).
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Echo(_) => "echo",
            Workload::Fanout(_) => "fanout",
            Workload::Stream(_) => "stream",
            Workload::Cancel(_) => "cancel",
        }
    }
}

/// `echo --port P --bind ADDR`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// 0 = any free port.
    pub port: u16,
    /// The one address to listen on (never a wildcard: with a remote server, only the address the
    /// client hosts reach), from [`parse_bind`]; default 127.0.0.1.
    pub bind: IpAddr,
}

impl Echo {
    /// The socket address to bind: `bind`:`port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// Parses `--bind`'s value (docs/PROTOCOL.md, echo): an IPv4 literal in dotted-quad form or an IPv6
/// literal without brackets or zone (`::1`), never a host name (no resolver is involved) and never an
/// unspecified address (`0.0.0.0`, `::`, `::ffff:0.0.0.0`), which would listen on every interface.
pub fn parse_bind(text: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = text.parse().map_err(|_| {
        format!(
            "bad value '{text}' for --bind (expected an IPv4 or IPv6 address literal such as \
             127.0.0.1 or ::1, no brackets, no host name)"
        )
    })?;
    let unspecified = match ip {
        IpAddr::V4(v4) => v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_unspecified() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_unspecified())
        }
    };
    if unspecified {
        return Err(format!(
            "--bind {text} is a wildcard (every interface); give the one address the clients \
             reach, e.g. 127.0.0.1"
        ));
    }
    Ok(ip)
}

/// `fanout --tasks N --sleep-ms D --variant bare|state`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    pub tasks: u64,
    pub sleep: Duration,
    pub variant: FanoutVariant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutVariant {
    /// Each task awaits its timer, then contributes `i`.
    Bare,
    /// Each task also keeps its own 1024-byte buffer alive across the timer.
    State,
}

/// `stream --items N --stages K --capacity C --variant balanced|slow-consumer --pause-every M
/// --pause-ms T --sample-every S --warmup-items W --min-ms T`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The source produces at least this many items (exactly this many when `min_run` is zero).
    pub items: u64,
    pub stages: usize,
    pub capacity: usize,
    pub variant: StreamVariant,
    /// The sink pauses after every `pause_every`-th item (slow-consumer only; 0 = never).
    pub pause_every: u64,
    pub pause: Duration,
    /// Every `sample_every`-th item carries a timestamp (0 = none does).
    pub sample_every: u64,
    /// Items of the untimed warm-up pipeline run before the timed one (0 = no warm-up).
    pub warmup_items: u64,
    /// The timed source keeps producing, in blocks of [`crate::stream::BLOCK_ITEMS`], until at
    /// least this long has passed since it started (zero = stop after exactly `items`).
    pub min_run: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamVariant {
    Balanced,
    SlowConsumer,
}

impl Stream {
    /// How long the sink pauses after receiving its `received`-th item (1-based), if at all.
    pub fn pause_after(&self, received: u64) -> Option<Duration> {
        let pauses = self.variant == StreamVariant::SlowConsumer && self.pause_every > 0;
        (pauses && received.is_multiple_of(self.pause_every)).then_some(self.pause)
    }

    /// The untimed warm-up pipeline (docs/PROTOCOL.md, stream "Warm-up"): the same stages and
    /// capacity over `warmup_items` items, no pauses, no stamps, no minimum duration; `None` when
    /// no warm-up was asked for.
    pub fn warmup(&self) -> Option<Stream> {
        (self.warmup_items > 0).then(|| Stream {
            items: self.warmup_items,
            variant: StreamVariant::Balanced,
            sample_every: 0,
            warmup_items: 0,
            min_run: Duration::ZERO,
            ..self.clone()
        })
    }
}

/// `cancel --variant mass|deadline|safety --tasks N --ops M --timeout-ms T --concurrency P --seed S
/// --items K --idiom safe|unsafe` (docs/PROTOCOL.md, "cancel"). Every flag is parsed whatever the
/// variant, so the harness can always pass all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancel {
    pub variant: CancelVariant,
    /// mass: tasks spawned, armed, then cancelled all at once.
    pub tasks: u64,
    /// deadline: request/timeout races in total.
    pub ops: u64,
    /// deadline: each race's timeout (whole milliseconds: the responders' delays derive from it).
    pub timeout_ms: u64,
    /// deadline: races run at a time (one worker task each).
    pub concurrency: u64,
    /// deadline: the splitmix64 seed that decides which races time out.
    pub seed: u64,
    /// safety: values the producer sends.
    pub items: u64,
    /// safety: which receive idiom the consumer uses.
    pub idiom: Idiom,
}

impl Cancel {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelVariant {
    /// N armed tasks cancelled at once: cost, cleanup, memory given back.
    Mass,
    /// M responses raced against a timeout: who wins is decided by the seed.
    Deadline,
    /// A consumer's "receive, or a 1 ms tick": does the idiom lose items?
    Safety,
}

impl CancelVariant {
    pub fn name(self) -> &'static str {
        match self {
            CancelVariant::Mass => "mass",
            CancelVariant::Deadline => "deadline",
            CancelVariant::Safety => "safety",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idiom {
    /// The ecosystem's cancellation-safe receive.
    Safe,
    /// The ecosystem's best-known unsafe idiom (documented hazard; lost items are a finding).
    Unsafe,
}

impl Idiom {
    pub fn name(self) -> &'static str {
        match self {
            Idiom::Safe => "safe",
            Idiom::Unsafe => "unsafe",
        }
    }
}

/// Parses the process arguments; on error prints `<program>: <error>` to stderr and exits 2.
pub fn from_env() -> Workload {
    match parse(std::env::args().skip(1)) {
        Ok(workload) => workload,
        Err(message) => usage_error(&message),
    }
}

/// Prints one line `<program>: <message>` to stderr and exits with status 2 (bad usage).
pub fn usage_error(message: &str) -> ! {
    let program = std::env::args().next().unwrap_or_default();
    let program = program.rsplit('/').next().unwrap_or("asyncbench");
    eprintln!("{program}: {message}");
    std::process::exit(2)
}

/// The number of executors a thread-per-core runtime is configured for: `ASYNCBENCH_CORES`
/// (docs/PROTOCOL.md, "Invocation"), default 1; a bad value is bad usage (exit 2).
pub fn cores_from_env() -> usize {
    match cores(std::env::var("ASYNCBENCH_CORES").ok().as_deref()) {
        Ok(n) => n,
        Err(message) => usage_error(&message),
    }
}

fn cores(value: Option<&str>) -> Result<usize, String> {
    let Some(s) = value else { return Ok(1) };
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "bad ASYNCBENCH_CORES '{s}' (expected an integer >= 1)"
        )),
    }
}

/// Parses `<workload> [--flag value]...` (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Workload, String> {
    let mut args = args.into_iter();
    let workload = args
        .next()
        .ok_or("missing workload (expected echo, fanout, stream or cancel)")?;
    let pairs = pairs(args)?;
    match workload.as_str() {
        "echo" => {
            let f = Flags::new("echo", pairs, &["port", "bind"])?;
            Ok(Workload::Echo(Echo {
                port: f.get("port", 0)?,
                bind: match f.raw("bind") {
                    Some(text) => parse_bind(text)?,
                    None => IpAddr::V4(Ipv4Addr::LOCALHOST),
                },
            }))
        }
        "fanout" => {
            let f = Flags::new("fanout", pairs, &["tasks", "sleep-ms", "variant"])?;
            let variant = match f.raw("variant").unwrap_or("bare") {
                "bare" => FanoutVariant::Bare,
                "state" => FanoutVariant::State,
                other => {
                    return Err(format!(
                        "bad value '{other}' for --variant (expected bare or state)"
                    ));
                }
            };
            Ok(Workload::Fanout(Fanout {
                tasks: f.at_least_one("tasks", 1000)?,
                sleep: Duration::from_millis(f.get("sleep-ms", 1000)?),
                variant,
            }))
        }
        "stream" => {
            let f = Flags::new(
                "stream",
                pairs,
                &[
                    "items",
                    "stages",
                    "capacity",
                    "variant",
                    "pause-every",
                    "pause-ms",
                    "sample-every",
                    "warmup-items",
                    "min-ms",
                ],
            )?;
            let variant = match f.raw("variant").unwrap_or("balanced") {
                "balanced" => StreamVariant::Balanced,
                "slow-consumer" => StreamVariant::SlowConsumer,
                other => {
                    return Err(format!(
                        "bad value '{other}' for --variant (expected balanced or slow-consumer)"
                    ));
                }
            };
            Ok(Workload::Stream(Stream {
                items: f.get("items", 1_000_000)?,
                stages: f.at_least_one("stages", 4)?,
                capacity: f.at_least_one("capacity", 64)?,
                variant,
                pause_every: f.get("pause-every", 10_000)?,
                pause: Duration::from_millis(f.get("pause-ms", 10)?),
                sample_every: f.get("sample-every", 1000)?,
                warmup_items: f.get("warmup-items", 0)?,
                min_run: Duration::from_millis(f.get("min-ms", 0)?),
            }))
        }
        "cancel" => {
            let f = Flags::new(
                "cancel",
                pairs,
                &[
                    "variant",
                    "tasks",
                    "ops",
                    "timeout-ms",
                    "concurrency",
                    "seed",
                    "items",
                    "idiom",
                ],
            )?;
            let variant = match f.raw("variant").unwrap_or("mass") {
                "mass" => CancelVariant::Mass,
                "deadline" => CancelVariant::Deadline,
                "safety" => CancelVariant::Safety,
                other => {
                    return Err(format!(
                        "bad value '{other}' for --variant (expected mass, deadline or safety)"
                    ));
                }
            };
            let idiom = match f.raw("idiom").unwrap_or("safe") {
                "safe" => Idiom::Safe,
                "unsafe" => Idiom::Unsafe,
                other => {
                    return Err(format!(
                        "bad value '{other}' for --idiom (expected safe or unsafe)"
                    ));
                }
            };
            Ok(Workload::Cancel(Cancel {
                variant,
                tasks: f.at_least_one("tasks", 10_000)?,
                ops: f.at_least_one("ops", 100_000)?,
                timeout_ms: f.at_least_one("timeout-ms", 20)?,
                concurrency: f.at_least_one("concurrency", 1000)?,
                seed: f.get("seed", 1)?,
                items: f.at_least_one("items", 20_000)?,
                idiom,
            }))
        }
        other => Err(format!(
            "unknown workload '{other}' (expected echo, fanout, stream or cancel)"
        )),
    }
}

/// Splits `--name value --name value ...` into pairs.
fn pairs(mut args: impl Iterator<Item = String>) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    while let Some(arg) = args.next() {
        let Some(name) = arg
            .strip_prefix("--")
            .filter(|n| !n.is_empty() && !n.contains('='))
        else {
            return Err(format!("expected a flag '--name value', got '{arg}'"));
        };
        let value = args
            .next()
            .ok_or_else(|| format!("flag --{name} needs a value"))?;
        pairs.push((name.to_string(), value));
    }
    Ok(pairs)
}

/// The flags of one workload, checked against the names it accepts.
struct Flags {
    pairs: Vec<(String, String)>,
}

impl Flags {
    fn new(workload: &str, pairs: Vec<(String, String)>, known: &[&str]) -> Result<Flags, String> {
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, _)| !known.contains(&name.as_str()))
        {
            let expected: Vec<String> = known.iter().map(|k| format!("--{k}")).collect();
            return Err(format!(
                "unknown flag --{name} for {workload} (expected {})",
                expected.join(", ")
            ));
        }
        Ok(Flags { pairs })
    }

    /// The last value given for `name`.
    fn raw(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| format!("bad value '{v}' for --{name}: {e}")),
        }
    }

    fn at_least_one<T: FromStr + PartialOrd + From<u8>>(
        &self,
        name: &str,
        default: T,
    ) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let value = self.get(name, default)?;
        if value < T::from(1) {
            return Err(format!("--{name} must be at least 1"));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Workload, String> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_every_workload() {
        assert_eq!(
            p("echo --port 8080"),
            Ok(Workload::Echo(Echo {
                port: 8080,
                bind: IpAddr::V4(Ipv4Addr::LOCALHOST)
            }))
        );
        assert_eq!(
            p("fanout --tasks 10 --sleep-ms 0 --variant state"),
            Ok(Workload::Fanout(Fanout {
                tasks: 10,
                sleep: Duration::ZERO,
                variant: FanoutVariant::State
            }))
        );
        let Ok(Workload::Stream(s)) = p(
            "stream --items 7 --stages 2 --capacity 3 --variant slow-consumer --pause-every 4 \
             --pause-ms 5 --sample-every 6 --warmup-items 8 --min-ms 9",
        ) else {
            panic!("stream did not parse");
        };
        assert_eq!((s.items, s.stages, s.capacity), (7, 2, 3));
        assert_eq!(
            (s.pause_every, s.pause, s.sample_every),
            (4, Duration::from_millis(5), 6)
        );
        assert_eq!((s.warmup_items, s.min_run), (8, Duration::from_millis(9)));
        assert_eq!(s.pause_after(8), Some(Duration::from_millis(5)));
        assert_eq!(s.pause_after(9), None);
    }

    #[test]
    fn parses_cancel_with_every_flag_and_defaults() {
        assert_eq!(
            p(
                "cancel --variant deadline --tasks 5 --ops 6 --timeout-ms 7 --concurrency 8 \
               --seed 9 --items 10 --idiom unsafe"
            ),
            Ok(Workload::Cancel(Cancel {
                variant: CancelVariant::Deadline,
                tasks: 5,
                ops: 6,
                timeout_ms: 7,
                concurrency: 8,
                seed: 9,
                items: 10,
                idiom: Idiom::Unsafe,
            }))
        );
        let Ok(Workload::Cancel(c)) = p("cancel") else {
            panic!("cancel did not parse");
        };
        assert_eq!((c.variant, c.idiom), (CancelVariant::Mass, Idiom::Safe));
        assert_eq!((c.tasks, c.ops, c.timeout_ms), (10_000, 100_000, 20));
        assert_eq!((c.concurrency, c.seed, c.items), (1000, 1, 20_000));
        assert_eq!(c.timeout(), Duration::from_millis(20));
        let Ok(Workload::Cancel(c)) = p("cancel --seed 18446744073709551615") else {
            panic!("a u64 seed did not parse");
        };
        assert_eq!(c.seed, u64::MAX);
    }

    #[test]
    fn stream_defaults_and_warmup() {
        let Ok(Workload::Stream(s)) = p("stream --variant slow-consumer") else {
            panic!("stream did not parse");
        };
        assert_eq!(
            (s.pause_every, s.pause),
            (10_000, Duration::from_millis(10))
        );
        assert_eq!((s.warmup_items, s.min_run), (0, Duration::ZERO));
        assert_eq!(s.warmup(), None);
        let Ok(Workload::Stream(s)) = p(
            "stream --items 50 --stages 3 --capacity 7 --variant slow-consumer --warmup-items 20 \
             --min-ms 100",
        ) else {
            panic!("stream did not parse");
        };
        let w = s.warmup().expect("a warm-up was asked for");
        assert_eq!((w.items, w.stages, w.capacity), (20, 3, 7));
        assert_eq!((w.variant, w.sample_every), (StreamVariant::Balanced, 0));
        assert_eq!((w.warmup_items, w.min_run), (0, Duration::ZERO));
        assert_eq!(w.pause_after(10_000), None);
    }

    #[test]
    fn balanced_never_pauses() {
        let Ok(Workload::Stream(s)) = p("stream --variant balanced --pause-every 1") else {
            panic!("stream did not parse");
        };
        assert_eq!(s.pause_after(1), None);
    }

    /// The `--bind` vectors of docs/PROTOCOL.md (echo), the same in every language's tests.
    #[test]
    fn bind_accepts_literals_and_refuses_wildcards() {
        let Ok(Workload::Echo(e)) = p("echo --port 0 --bind 127.0.0.2") else {
            panic!("echo --bind did not parse");
        };
        assert_eq!(e.addr(), "127.0.0.2:0".parse().unwrap());
        let Ok(Workload::Echo(e)) = p("echo --bind ::1 --port 7") else {
            panic!("echo --bind ::1 did not parse");
        };
        assert_eq!(e.addr(), "[::1]:7".parse().unwrap());
        for good in ["127.0.0.1", "10.1.2.3", "::1", "fe80::1", "2001:db8::10"] {
            let ip = parse_bind(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(ip, good.parse::<IpAddr>().unwrap());
        }
        for wildcard in ["0.0.0.0", "::", "0:0::0", "::ffff:0.0.0.0"] {
            let err = parse_bind(wildcard).expect_err(wildcard);
            assert!(err.contains("wildcard") && !err.contains('\n'), "{err}");
        }
        for bad in [
            "",
            "localhost",
            "[::1]",
            "::1%lo",
            "127.1",
            "127.0.0.01",
            "1.2.3.4.5",
            "127.0.0.1:80",
        ] {
            let err = parse_bind(bad).expect_err(bad);
            assert!(err.contains("--bind") && !err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn cores_default_to_one() {
        assert_eq!(cores(None), Ok(1));
        assert_eq!(cores(Some(" 4\n")), Ok(4));
        for bad in ["0", "-1", "x", ""] {
            let err = cores(Some(bad)).expect_err(bad);
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn rejects_bad_usage_with_one_line() {
        for bad in [
            "",
            "nope",
            "echo --port",
            "echo --port 70000",
            "echo --port=1",
            "echo port 1",
            "echo --tasks 1",
            "echo --bind 0.0.0.0",
            "echo --bind ::",
            "echo --bind localhost",
            "echo --bind",
            "fanout --tasks 0",
            "fanout --tasks -1",
            "fanout --variant fat",
            "stream --stages 0",
            "stream --capacity 0",
            "stream --variant fast",
            "stream --items x",
            "stream --min-ms -1",
            "stream --warmup-items x",
            "cancel --variant all",
            "cancel --idiom risky",
            "cancel --tasks 0",
            "cancel --timeout-ms 0",
            "cancel --concurrency 0",
            "cancel --items 0",
            "cancel --seed -1",
            "cancel --port 1",
        ] {
            let err = p(bad).expect_err(bad);
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
