//! The `asyncbench` binary: parse options, run, print the error chain on failure.

use clap::Parser;

fn main() {
    let opts = asyncbench::Opts::parse();
    match asyncbench::run(opts) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // Errors may quote names and files: no raw control or bidi characters reach the terminal.
            let esc = |t: String| asyncbench::text::escape_for_terminal(&t);
            eprintln!("error: {}", esc(e.to_string()));
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {}", esc(cause.to_string()));
            }
            std::process::exit(2);
        }
    }
}
