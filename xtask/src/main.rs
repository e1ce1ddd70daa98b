//! `cargo xtask <task>`: the project's own tooling (see README.md).
//!
//! Tasks: `ci`, `cuda-check`, `bench`, `test-gpu`, `repro` (not yet). Arguments are parsed by hand
//! and the crate has no dependencies, so `cargo xtask` starts in seconds on a fresh machine.

mod bench;
mod bench_summary;
mod ci;
mod cuda_check;
mod gpu;
mod json;
mod nvrtc;
mod peers;
mod util;

use std::process::ExitCode;

const HELP: &str = "\
usage: cargo xtask <task> [options]

tasks:
  ci                      fmt check, clippy (-D warnings, with and without the cuda features),
                          cargo test --workspace (tests + doc tests), the linalg feature's tests
                          when libopenblas is installed, and cuda-check
  cuda-check              compile every .cu under crates/ with NVRTC for compute_90 (no GPU
                          needed) and print registers/spills per kernel when ptxas is there;
                          installs pinned NVRTC/ptxas wheels into a cache if no CUDA is found
  bench [FILTER] [--quick] [--peers] [--cuda]
                          run the criterion benches and print one summary table
                          (achieved rate, ceiling measured in the same run, percentage)
  test-gpu [--bundle DIR] run the tests with the CUDA tests required (no GPU = failure), or
                          build stripped release test binaries + run.sh into DIR
  repro                   (not yet) the main job

environment: CI=true turns every skip of cuda-check (no NVRTC install possible) into a failure.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match task.as_str() {
        "ci" => ci::run(rest),
        "cuda-check" => cuda_check::run(rest),
        "bench" => bench::run(rest),
        "test-gpu" => gpu::run(rest),
        "repro" => {
            eprintln!(
                "xtask: `cargo xtask repro` (the main job: laptop-scale reproductions of each idea's\n\
                 headline claim, with a report) does not exist yet. Until it does, the main job is\n\
                 `cargo xtask bench --quick` (every kernel against its ceiling), and the tests are\n\
                 `cargo test --workspace`."
            );
            Err(util::Failure::new("repro is not implemented yet"))
        }
        "-h" | "--help" | "help" => {
            println!("{HELP}");
            Ok(())
        }
        other => {
            eprintln!("xtask: unknown task `{other}`\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
