//! The `seccfg` command: serve the API, run one request offline, check templates
//! against approved controls, migrate, inspect the catalog.

mod check_cmd;
mod check_server;
mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: the API's read paths build and drop many small
/// values per request (rows, JSON), and in a profile of `GET /v1/runs` glibc's
/// allocator (`_int_malloc`, `_int_free`, `malloc_consolidate`) took ~17% of the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::execute(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
