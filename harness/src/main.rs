//! The `asyncbench` binary: parse options, run, print the error chain on failure.

use clap::Parser;

fn main() {
    let opts = asyncbench::Opts::parse();
    match asyncbench::run(opts) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::exit(2);
        }
    }
}
