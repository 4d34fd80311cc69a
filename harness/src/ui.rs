//! Progress output: indicatif bars on a terminal, plain lines otherwise (CI logs, pipes). Everything the
//! harness says goes to stderr so stdout stays clean for `--json` output.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Where progress goes.
pub struct Ui {
    bar: Option<ProgressBar>,
    tty: bool,
    quiet: bool,
}

impl Ui {
    pub fn new(quiet: bool) -> Self {
        Ui {
            bar: None,
            tty: std::io::stderr().is_terminal(),
            quiet,
        }
    }

    /// A one-line message (printed above the bar on a terminal). Control and bidi characters (from
    /// child stderr or names) are escaped.
    pub fn line(&self, msg: &str) {
        if self.quiet {
            return;
        }
        let msg = &crate::text::escape_for_terminal(msg);
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    /// Starts a progress phase of `len` steps.
    pub fn phase(&mut self, name: &str, len: u64) {
        self.finish();
        if self.quiet {
            return;
        }
        if self.tty {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>8} [{bar:30}] {pos}/{len} {elapsed_precise} {wide_msg}",
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

    /// Marks the start of one step of the current phase.
    pub fn step(&self, msg: &str) {
        if self.quiet {
            return;
        }
        let msg = &crate::text::escape_for_terminal(msg);
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None => eprintln!("   {msg}"),
        }
    }

    /// Marks one step as done.
    pub fn done(&self) {
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
