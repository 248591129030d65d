//! The `firedrill` binary: tracing, then hand over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    firedrill::cli::run()
}
