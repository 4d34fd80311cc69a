//! Progress output: indicatif bars on a terminal, plain lines otherwise (CI logs, pipes). Everything the
//! harness says goes to stderr so stdout stays clean for `--json` output.
//!
//! Colour (verdicts, warnings) goes through anstream, which drops it when the stream is not a terminal
//! or `NO_COLOR` is set (and honours `CLICOLOR_FORCE`), so logs and pipes get plain text.

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const BAD: Style = AnsiColor::Red.on_default().bold();
const GOOD: Style = AnsiColor::Green.on_default();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const DIM: Style = Style::new().dimmed();

/// Words whose colour carries meaning, matched as whole words.
const PAINTED: &[(&str, Style)] = &[
    ("regressed", BAD),
    ("REGRESSED", BAD),
    ("now failing", BAD),
    ("VIOLATED", BAD),
    ("FAILED", BAD),
    ("failed", BAD),
    ("timeout", BAD),
    ("crashed", BAD),
    ("improved", GOOD),
    ("within noise", DIM),
    ("warning:", WARN),
];

/// `text` with verdicts and warnings coloured (ANSI). Print it through `anstream::print!`/`eprint!`,
/// which strips the codes where colour is not wanted.
pub fn paint_verdicts(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for (word, style) in PAINTED {
            if let Some(tail) = rest.strip_prefix(word) {
                let before_ok = out
                    .chars()
                    .last()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '_');
                let after_ok = tail
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '_');
                if before_ok && after_ok {
                    out.push_str(&format!("{style}{word}{style:#}"));
                    rest = tail;
                    continue 'outer;
                }
            }
        }
        let ch = rest.chars().next().expect("non-empty");
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Whether stderr wants colour (a terminal, no `NO_COLOR`).
fn stderr_colour() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != ColorChoice::Never
}

/// Prints a warning line on stderr ("warning: …", coloured on a terminal).
pub fn warn(msg: &str) {
    anstream::eprintln!("{WARN}warning:{WARN:#} {msg}");
}

/// "3m05s", "42s", "1h02m".
fn fmt_eta(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Where progress goes.
pub struct Ui {
    bar: Option<ProgressBar>,
    tty: bool,
    quiet: bool,
    /// Plain-text mode: when the phase started, how many steps it has and how many are done, for the
    /// ETA printed with each step.
    phase_started: Instant,
    phase_len: u64,
    phase_done: std::cell::Cell<u64>,
}

impl Ui {
    pub fn new(quiet: bool) -> Self {
        Ui {
            bar: None,
            tty: std::io::stderr().is_terminal(),
            quiet,
            phase_started: Instant::now(),
            phase_len: 0,
            phase_done: std::cell::Cell::new(0),
        }
    }

    /// A one-line message (printed above the bar on a terminal); "warning:" lines are coloured. Control
    /// and bidi characters (from child stderr or names) are escaped.
    pub fn line(&self, msg: &str) {
        if self.quiet {
            return;
        }
        let msg = crate::text::escape_for_terminal(msg).to_string();
        let msg = if stderr_colour() {
            paint_verdicts(&msg)
        } else {
            msg
        };
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => anstream::eprintln!("{msg}"),
        }
    }

    /// Starts a progress phase of `len` steps. The bar shows an ETA from the pace of the steps so far
    /// (the phase's steps — trials of one workload — take similar time).
    pub fn phase(&mut self, name: &str, len: u64) {
        self.finish();
        self.phase_started = Instant::now();
        self.phase_len = len;
        self.phase_done.set(0);
        if self.quiet {
            return;
        }
        if self.tty {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>8} [{bar:30}] {pos}/{len} {elapsed_precise} (ETA {eta}) {wide_msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_string());
            self.bar = Some(bar);
        } else {
            eprintln!("== {name} ({len} steps)");
        }
    }

    /// Starts a phase of unknown length that runs in another process (the criterion micro-benchmarks):
    /// a spinner with the elapsed time on a terminal. The returned [`Ticker`] updates its message from
    /// any thread; in plain-text mode it prints the message at most every `plain_every`.
    pub fn ticker(&mut self, name: &str, plain_every: Duration) -> Ticker {
        self.finish();
        let bar = (!self.quiet && self.tty).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>8} {spinner} {elapsed_precise} {wide_msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if !self.quiet && !self.tty {
            eprintln!("== {name}");
        }
        self.bar = bar.clone();
        Ticker {
            bar,
            quiet: self.quiet,
            started: Instant::now(),
            last_plain: Arc::new(std::sync::Mutex::new(None)),
            plain_every,
        }
    }

    /// Marks the start of one step of the current phase.
    pub fn step(&self, msg: &str) {
        if self.quiet {
            return;
        }
        let msg = &crate::text::escape_for_terminal(msg);
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None => {
                let done = self.phase_done.get();
                let eta = (done > 0 && self.phase_len > done).then(|| {
                    let per = self.phase_started.elapsed() / done as u32;
                    fmt_eta(per * (self.phase_len - done) as u32)
                });
                match eta {
                    Some(eta) => eprintln!("   [{}/{}, ETA {eta}] {msg}", done + 1, self.phase_len),
                    None => eprintln!("   [{}/{}] {msg}", done + 1, self.phase_len),
                }
            }
        }
    }

    /// Marks one step as done.
    pub fn done(&self) {
        self.phase_done.set(self.phase_done.get() + 1);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Progress messages for a [`Ui::ticker`] phase; cheap to clone and send to a polling thread.
#[derive(Clone)]
pub struct Ticker {
    bar: Option<ProgressBar>,
    quiet: bool,
    started: Instant,
    last_plain: Arc<std::sync::Mutex<Option<Instant>>>,
    plain_every: Duration,
}

impl Ticker {
    /// Shows `msg` (with the elapsed time in plain-text mode).
    pub fn set(&self, msg: &str) {
        if self.quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_string());
            return;
        }
        let mut last = self.last_plain.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= self.plain_every) {
            *last = Some(Instant::now());
            eprintln!("   [{}] {msg}", fmt_eta(self.started.elapsed()));
        }
    }
}

/// Runs `poll` every `period` on a thread until the returned guard is dropped: progress for work that
/// happens in another process.
pub fn poll_every(period: Duration, mut poll: impl FnMut() + Send + 'static) -> PollGuard {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let handle = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            poll();
            let until = Instant::now() + period;
            while Instant::now() < until && !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    PollGuard {
        stop,
        handle: Some(handle),
    }
}

/// Stops a [`poll_every`] thread when dropped (and waits for it).
pub struct PollGuard {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_painted_as_whole_words_only() {
        let s = paint_verdicts("a regressed b; unregressed; within noise\nwarning: x");
        assert!(s.contains(&format!("{BAD}regressed{BAD:#}")));
        assert!(s.contains("unregressed"), "not inside a word");
        assert_eq!(
            s.matches("\u{1b}[0m").count(),
            3,
            "three words painted: {s:?}"
        );
        assert_eq!(
            anstream::adapter::strip_str(&s).to_string(),
            "a regressed b; unregressed; within noise\nwarning: x",
            "stripping restores the plain text exactly"
        );
    }

    #[test]
    fn eta_text() {
        assert_eq!(fmt_eta(Duration::from_secs(42)), "42s");
        assert_eq!(fmt_eta(Duration::from_secs(185)), "3m05s");
        assert_eq!(fmt_eta(Duration::from_secs(3720)), "1h02m");
    }
}
