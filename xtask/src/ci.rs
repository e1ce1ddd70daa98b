//! `cargo xtask ci`: everything a submission must pass, each step timed, with one summary.
//!
//! fmt → clippy (-D warnings) → rustdoc (-D warnings: broken or ambiguous intra-doc links fail)
//! → clippy with the `cuda` features → `cargo test --workspace` (unit, integration and doc
//! tests) → the `linalg` feature's tests when libopenblas is there → cuda-check. Every step runs even after a failure, so one run shows everything that is wrong.

use crate::util::{self, Failure, Result};
use std::path::Path;
use std::time::Instant;

struct Step {
    name: String,
    outcome: Outcome,
    time: String,
}

enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

pub fn run(args: &[String]) -> Result<()> {
    let mut skip_test = false;
    let mut test_log = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            // `.ci/run` runs the README's test command verbatim first, then
            // `ci --skip-test --test-log FILE` (its output, to count the skipped GPU checks).
            "--skip-test" => skip_test = true,
            "--test-log" => test_log = Some(it.next().ok_or(Failure::new("--test-log FILE"))?),
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask ci [--skip-test [--test-log FILE]]   \
                     (CI=true: skips become failures)"
                );
                return Ok(());
            }
            other => return Err(Failure(format!("ci: unknown argument `{other}`"))),
        }
    }
    let pkgs = util::workspace_packages()?;
    let cuda = util::cuda_features(&pkgs);
    let mut steps: Vec<Step> = Vec::new();
    let mut ignored = None;

    step(&mut steps, "fmt", || cargo_ok(&["fmt", "--all", "--check"]));
    step(&mut steps, "clippy", || {
        cargo_ok(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
    });
    step(&mut steps, "doc", || {
        let mut cmd = util::cargo();
        cmd.args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings");
        Ok(if util::run_status(&mut cmd)? {
            Outcome::Pass
        } else {
            Outcome::Fail(
                "`cargo doc --workspace --no-deps` with RUSTDOCFLAGS=-D warnings failed".into(),
            )
        })
    });
    if cuda.is_empty() {
        steps.push(skipped(
            "clippy --features cuda",
            "no crate has a `cuda` feature",
        ));
    } else {
        let name = format!("clippy --features {cuda}");
        step(&mut steps, &name, || {
            cargo_ok(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                &cuda,
                "--",
                "-D",
                "warnings",
            ])
        });
    }
    if skip_test {
        steps.push(skipped("test --workspace", "--skip-test (run separately)"));
        if let Some(log) = test_log {
            let text = std::fs::read_to_string(log)
                .map_err(|e| Failure(format!("--test-log {log}: {e}")))?;
            ignored = Some(count_ignored(&text));
        }
    } else {
        step(&mut steps, "test --workspace", || {
            let (ok, out) = util::run_tee(util::cargo().args(["test", "--workspace"]))?;
            ignored = Some(count_ignored(&out));
            Ok(if ok {
                Outcome::Pass
            } else {
                Outcome::Fail("tests failed".into())
            })
        });
    }
    for p in pkgs
        .iter()
        .filter(|p| p.features.iter().any(|f| f == "linalg"))
    {
        let name = format!("test -p {} --features linalg --lib linalg", p.name);
        let openblas = util::ldconfig_find("libopenblas");
        if openblas.is_empty() {
            let why = "libopenblas is not installed (apt-get install -y libopenblas-dev)";
            if util::is_ci() {
                steps.push(Step {
                    name,
                    outcome: Outcome::Fail(why.into()),
                    time: "-".into(),
                });
            } else {
                steps.push(skipped(&name, why));
            }
            continue;
        }
        step(&mut steps, &name, || {
            // ndarray-linalg turns on num-complex features that faer also uses, so this build
            // cannot reuse the test build's dependencies. Its tests are tiny: build them
            // unoptimised (about half the time of an optimised rebuild of faer), and only the
            // linalg module's unit tests (--lib, no doc tests).
            cargo_ok(&[
                "--config",
                "profile.dev.opt-level=0",
                "--config",
                "profile.dev.debug=0",
                "--config",
                "profile.dev.package.\"*\".opt-level=0",
                "test",
                "-p",
                &p.name,
                "--features",
                "linalg",
                "--lib",
                "linalg",
            ])
        });
    }
    step(&mut steps, "cuda-check", || {
        Ok(match crate::cuda_check::run(&[]) {
            Ok(()) => Outcome::Pass,
            Err(e) => Outcome::Fail(e.0),
        })
    });
    let convention = ignore_convention_violations(&util::workspace_root().join("crates"));
    steps.push(Step {
        name: "ignored tests are GPU checks".into(),
        outcome: if convention.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(format!(
                "ignored tests that are not gpu_test! (the GPU-check count would lie): {}",
                convention.join("; ")
            ))
        },
        time: "-".into(),
    });

    println!("\n==== cargo xtask ci: summary ====");
    let mut failed = 0;
    for s in &steps {
        let (tag, note) = match &s.outcome {
            Outcome::Pass => ("PASS", String::new()),
            Outcome::Fail(w) => {
                failed += 1;
                ("FAIL", w.clone())
            }
            Outcome::Skip(w) => ("SKIP", w.clone()),
        };
        println!("  {tag}  {:<66} {:>7}  {note}", s.name, s.time);
    }
    match ignored {
        Some(n) => println!(
            "  GPU checks skipped: {n} (every ignored test here is a gpu_test!; \
             run them on a GPU with `cargo xtask test-gpu`)"
        ),
        None => println!("  GPU checks skipped: not counted (tests ran separately)"),
    }
    if failed == 0 {
        println!("ci: all steps passed");
        Ok(())
    } else {
        Err(Failure(format!("{failed} step(s) failed")))
    }
}

fn skipped(name: &str, why: &str) -> Step {
    Step {
        name: name.into(),
        outcome: Outcome::Skip(why.into()),
        time: "-".into(),
    }
}

fn step(steps: &mut Vec<Step>, name: &str, f: impl FnOnce() -> Result<Outcome>) {
    println!("\n==== ci: {name} ====");
    let t = Instant::now();
    let outcome = f().unwrap_or_else(|e| Outcome::Fail(e.0));
    let time = util::secs(t);
    match &outcome {
        Outcome::Pass => println!("==== ci: {name}: PASS ({time})"),
        Outcome::Fail(w) => println!("==== ci: {name}: FAIL ({time}): {w}"),
        Outcome::Skip(w) => println!("==== ci: {name}: SKIP: {w}"),
    }
    steps.push(Step {
        name: name.into(),
        outcome,
        time,
    });
}

fn cargo_ok(args: &[&str]) -> Result<Outcome> {
    Ok(if util::run_status(util::cargo().args(args))? {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("`cargo {}` failed", args.join(" ")))
    })
}

/// Sums the "N ignored" of every `test result:` line of `cargo test` output.
pub fn count_ignored(output: &str) -> usize {
    output
        .lines()
        .filter(|l| l.trim_start().starts_with("test result:"))
        .filter_map(|l| {
            let words: Vec<&str> = l.split([' ', ';']).filter(|w| !w.is_empty()).collect();
            let i = words.iter().position(|w| *w == "ignored")?;
            words.get(i.checked_sub(1)?)?.parse::<usize>().ok()
        })
        .sum()
}

/// Places under `dir` that mark a test ignored other than through `gpu_test!` (which is defined
/// in kernels' testing.rs): bare `#[ignore` attributes and ```` ```ignore ```` doc blocks.
fn ignore_convention_violations(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in util::files_under(dir, "rs") {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let defines_macro = text.contains("macro_rules! gpu_test");
        for (i, line) in text.lines().enumerate() {
            let l = line.trim_start();
            let attr = l.starts_with("#[ignore") || l.contains("ignore = \"");
            let doc = (l.starts_with("///") || l.starts_with("//!"))
                && (l.contains("```ignore") || l.contains(",ignore"));
            if (attr && !defines_macro) || doc {
                let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                out.push(format!("crates/{rel}:{}", i + 1));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_ignored_counts_over_all_test_binaries() {
        let out = "running 3 tests\n\
test result: ok. 3 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n\
   Doc-tests kernels\n\
test result: FAILED. 1 passed; 1 failed; 5 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(count_ignored(out), 7);
        assert_eq!(count_ignored("no results"), 0);
    }
}
