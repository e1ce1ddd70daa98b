//! `adam-eps-scaling` CLI: see `--help`.
use adam_eps_scaling::cli::{Cli, run};
use clap::Parser;

fn main() -> std::process::ExitCode {
    match run(&Cli::parse()) {
        Ok(s) => {
            print!("{s}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
