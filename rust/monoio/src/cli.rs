//! Protocol plumbing (docs/PROTOCOL.md): flag parsing, JSON lines, the stream transform/checksum,
//! `ASYNCBENCH_CORES`, shutdown on SIGTERM/stdin EOF, and preflight diagnostics.
//! This file is byte-identical in rust/monoio and rust/glommio; it belongs in rust/common eventually.

use std::io::{Read, Write};
use std::process::exit;
use std::time::Instant;

pub enum Workload {
    Preflight,
    Echo { port: u16 },
    Fanout(FanoutArgs),
    Stream(StreamArgs),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FanoutVariant {
    Bare,
    State,
}

pub struct FanoutArgs {
    pub tasks: u64,
    pub sleep_ms: u64,
    pub variant: FanoutVariant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StreamVariant {
    Balanced,
    SlowConsumer,
}

pub struct StreamArgs {
    pub items: u64,
    pub stages: usize,
    pub capacity: usize,
    pub variant: StreamVariant,
    pub pause_every: u64,
    pub pause_ms: u64,
    pub sample_every: u64,
}

/// Print one line on stderr and exit 2 (bad usage).
pub fn usage(msg: &str) -> ! {
    eprintln!("{msg}");
    exit(2)
}

fn num<T>(name: &str, value: &str, min: T) -> T
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.parse::<T>() {
        Ok(v) if v >= min => v,
        _ => usage(&format!(
            "bad value for --{name}: {value:?} (want an integer >= {min})"
        )),
    }
}

/// Parse `<workload> [--flag value]...`; exits 2 on anything unknown or malformed.
pub fn parse() -> Workload {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(workload) = args.first() else {
        usage("usage: <echo|fanout|stream|preflight> [--flag value]...")
    };
    let mut w = match workload.as_str() {
        "preflight" => Workload::Preflight,
        "echo" => Workload::Echo { port: 0 },
        "fanout" => Workload::Fanout(FanoutArgs {
            tasks: 10_000,
            sleep_ms: 10,
            variant: FanoutVariant::Bare,
        }),
        "stream" => Workload::Stream(StreamArgs {
            items: 100_000,
            stages: 4,
            capacity: 64,
            variant: StreamVariant::Balanced,
            pause_every: 1000,
            pause_ms: 1,
            sample_every: 1000,
        }),
        other => usage(&format!("unknown workload {other:?}")),
    };
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let Some(name) = flag.strip_prefix("--") else {
            usage(&format!("unexpected argument {flag:?}"))
        };
        let Some(v) = rest.next() else {
            usage(&format!("flag --{name} needs a value"))
        };
        match (&mut w, name) {
            (Workload::Echo { port }, "port") => *port = num(name, v, 0),
            (Workload::Fanout(a), "tasks") => a.tasks = num(name, v, 1),
            (Workload::Fanout(a), "sleep-ms") => a.sleep_ms = num(name, v, 0),
            (Workload::Fanout(a), "variant") => {
                a.variant = match v.as_str() {
                    "bare" => FanoutVariant::Bare,
                    "state" => FanoutVariant::State,
                    _ => usage(&format!("bad value for --variant: {v:?} (want bare|state)")),
                }
            }
            (Workload::Stream(a), "items") => a.items = num(name, v, 1),
            (Workload::Stream(a), "stages") => a.stages = num(name, v, 1),
            (Workload::Stream(a), "capacity") => a.capacity = num(name, v, 1),
            (Workload::Stream(a), "pause-every") => a.pause_every = num(name, v, 1),
            (Workload::Stream(a), "pause-ms") => a.pause_ms = num(name, v, 0),
            (Workload::Stream(a), "sample-every") => a.sample_every = num(name, v, 1),
            (Workload::Stream(a), "variant") => {
                a.variant = match v.as_str() {
                    "balanced" => StreamVariant::Balanced,
                    "slow-consumer" => StreamVariant::SlowConsumer,
                    _ => usage(&format!(
                        "bad value for --variant: {v:?} (want balanced|slow-consumer)"
                    )),
                }
            }
            _ => usage(&format!("unknown flag --{name} for workload {workload}")),
        }
    }
    w
}

/// Number of executors from `ASYNCBENCH_CORES` (default 1); exits 2 on a bad value.
pub fn cores() -> usize {
    match std::env::var("ASYNCBENCH_CORES") {
        Err(_) => 1,
        Ok(s) => match s.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => usage(&format!(
                "bad ASYNCBENCH_CORES {s:?} (want an integer >= 1)"
            )),
        },
    }
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    // stdout closed by the harness: nothing sensible left to do but stop.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        exit(1);
    }
}

/// The `ready` event. `port` only for echo; `extra` is either empty or `,"key":value...`.
pub fn ready(
    workload: &str,
    port: Option<u16>,
    runtime: &str,
    threads: usize,
    future_bytes: usize,
    extra: &str,
) {
    let port = port.map(|p| format!(",\"port\":{p}")).unwrap_or_default();
    emit(&format!(
        "{{\"event\":\"ready\",\"workload\":\"{workload}\"{port},\"runtime\":\"{runtime}\",\
         \"threads\":{threads},\"future_bytes\":{future_bytes}{extra}}}"
    ));
}

pub fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

pub fn fanout_result(tasks: u64, checksum: u64, spawn_ms: f64, total_ms: f64) {
    emit(&format!(
        "{{\"event\":\"result\",\"workload\":\"fanout\",\"tasks\":{tasks},\"checksum\":{checksum},\
         \"spawn_ms\":{spawn_ms:.3},\"total_ms\":{total_ms:.3}}}"
    ));
}

pub fn stream_result(items: u64, checksum: u32, elapsed_ms: f64, samples: &[u64]) {
    let samples: Vec<String> = samples.iter().map(u64::to_string).collect();
    emit(&format!(
        "{{\"event\":\"result\",\"workload\":\"stream\",\"items\":{items},\"checksum\":{checksum},\
         \"elapsed_ms\":{elapsed_ms:.3},\"latency_samples_ns\":[{}]}}",
        samples.join(",")
    ));
}

static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Fix the process-wide monotonic origin that stream stamps are measured from (call at start-up).
pub fn clock_init() {
    ORIGIN.get_or_init(Instant::now);
}

/// Monotonic nanoseconds since [`clock_init`].
pub fn now_ns() -> u64 {
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// One stream item (same shape as the other Rust implementations': 16 bytes).
#[derive(Clone, Copy)]
pub struct Item {
    pub value: u32,
    /// `now_ns()` at the source, on every `sample_every`-th item.
    pub stamp_ns: Option<u64>,
}

/// One stream stage: `value * 1664525 + 1013904223 (mod 2^32)`.
#[inline]
pub fn transform(v: u32) -> u32 {
    v.wrapping_mul(1_664_525).wrapping_add(1_013_904_223)
}

pub const FNV_INIT: u32 = 2_166_136_261;

/// The sink's order-sensitive fold.
#[inline]
pub fn fnv(h: u32, v: u32) -> u32 {
    (h ^ v).wrapping_mul(16_777_619)
}

/// The fan-out `state` buffer: `buf[j] = (i + j) mod 256`.
#[inline]
pub fn fill(buf: &mut [u8], i: u64) {
    for (j, b) in buf.iter_mut().enumerate() {
        *b = (i as usize).wrapping_add(j) as u8;
    }
}

/// Echo runs until SIGTERM or stdin EOF: one plain std thread waits for each and exits the process
/// (the kernel tears down the io_uring instances; there is no state to flush).
pub fn exit_on_sigterm_or_stdin_eof() {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM])
        .unwrap_or_else(|e| fatal(&format!("cannot install SIGTERM handler: {e}")));
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            exit(0);
        }
    });
    std::thread::spawn(|| {
        let mut buf = [0u8; 512];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => exit(0),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => exit(0),
            }
        }
    });
}

/// A runtime failure: one line on stderr, exit 1.
pub fn fatal(msg: &str) -> ! {
    eprintln!("{msg}");
    exit(1)
}

/// Symbolic errno name, for preflight messages.
pub fn errno_name(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::EACCES) => "EACCES",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::EMFILE) => "EMFILE",
        Some(libc::ENFILE) => "ENFILE",
        Some(libc::EFAULT) => "EFAULT",
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
        Some(n) => return format!("errno {n} ({e})"),
        None => return e.to_string(),
    };
    name.to_string()
}

/// What the system says about io_uring, appended to a failed preflight: the
/// `kernel.io_uring_disabled` sysctl, an active seccomp filter, the kernel release.
pub fn uring_context() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string());
    let mut ctx = Vec::new();
    if let Ok(v) = read("/proc/sys/kernel/io_uring_disabled") {
        ctx.push(format!("kernel.io_uring_disabled={v}"));
    }
    if let Ok(status) = read("/proc/self/status") {
        if let Some(mode) = status.lines().find_map(|l| l.strip_prefix("Seccomp:")) {
            if mode.trim() != "0" {
                ctx.push("seccomp filter active".to_string());
            }
        }
    }
    if let Ok(r) = read("/proc/sys/kernel/osrelease") {
        ctx.push(format!("kernel {r}"));
    }
    ctx.join(", ")
}

/// Ask the kernel for a small io_uring directly, so a refusal is reported with its errno rather than
/// through a runtime's own (sometimes misleading) error or panic.
pub fn probe_io_uring() -> Result<(), String> {
    // struct io_uring_params is 120 bytes; the kernel fills in the offsets.
    let mut params = [0u64; 15];
    // SAFETY: io_uring_setup(2) with a zeroed, correctly sized params struct; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!(
            "io_uring_setup failed: {} ({})",
            errno_name(&e),
            uring_context()
        ));
    }
    // SAFETY: `fd` is the descriptor io_uring_setup just returned to us.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

/// Run `f` on a fresh thread with a deadline, turning a panic or a hang into an `Err` message
/// (used by preflight so a broken io_uring cannot hang or spew a backtrace).
pub fn guarded<F>(what: &str, secs: u64, f: F) -> Result<(), String>
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let name = what.to_string();
    std::panic::set_hook(Box::new(|_| {}));
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(format!("{name} panicked: {msg}"))
        });
        let _ = tx.send(r);
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .unwrap_or_else(|_| Err(format!("{what} did not complete within {secs} s")))
}

/// `size_of` the future an async fn of one argument returns, without needing an argument value
/// (equal to `size_of_val` of any such future; used where the argument is a live socket).
pub fn future_size<A, F: Future>(_: impl Fn(A) -> F) -> usize {
    std::mem::size_of::<F>()
}
