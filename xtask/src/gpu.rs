//! `cargo xtask test-gpu [--bundle DIR] [-- TEST ARGS]`: the test suite with the CUDA tests
//! required. Built with the crates' `cuda` features, `gpu_test!` tests are not ignored and fail
//! without a device, so a missing GPU is a failure here, never a skip.
//!
//! `--bundle DIR` instead builds stripped release test binaries with `--features cuda` and writes
//! them with a `run.sh` into DIR, for a GPU machine with no Rust toolchain.

use crate::json::Json;
use crate::util::{self, Failure, Result};
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: cargo xtask test-gpu [--bundle DIR] [-- TEST ARGS]";

pub fn run(args: &[String]) -> Result<()> {
    let mut bundle = None;
    let mut test_args = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bundle" => bundle = Some(PathBuf::from(it.next().ok_or(Failure::new(USAGE))?)),
            "--" => test_args.extend(it.by_ref().cloned()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => {
                return Err(Failure(format!(
                    "test-gpu: unknown argument `{other}`\n{USAGE}"
                )));
            }
        }
    }
    let pkgs = util::workspace_packages()?;
    let feats = util::cuda_features(&pkgs);
    if feats.is_empty() {
        return Err(Failure::new("no crate has a `cuda` feature"));
    }
    match bundle {
        Some(dir) => build_bundle(&dir, &feats),
        None => test_here(&feats, &test_args),
    }
}

fn test_here(feats: &str, test_args: &[String]) -> Result<()> {
    let (gpu, what) = util::gpu_present();
    if !gpu {
        return Err(Failure(format!(
            "no CUDA GPU here ({what}). The CUDA tests are required by test-gpu, so this is a \
             failure, not a skip. On a GPU machine without Rust, use \
             `cargo xtask test-gpu --bundle DIR` here and run DIR/run.sh there."
        )));
    }
    println!("test-gpu: {what}");
    let mut cmd = util::cargo();
    cmd.args(["test", "--workspace", "--features", feats]);
    if !test_args.is_empty() {
        cmd.arg("--").args(test_args);
    }
    let (ok, out) = util::run_tee(&mut cmd)?;
    let ignored = crate::ci::count_ignored(&out);
    if ignored > 0 {
        println!("test-gpu: note: {ignored} test(s) still ignored with the cuda features");
    }
    if ok {
        Ok(())
    } else {
        Err(Failure::new("tests failed"))
    }
}

/// A test executable cargo built, and the name it gets in the bundle.
struct TestBinary {
    path: PathBuf,
    name: String,
}

fn build_bundle(dir: &Path, feats: &str) -> Result<()> {
    let mut cmd = util::cargo();
    cmd.args([
        "test",
        "--workspace",
        "--exclude",
        "xtask",
        "--release",
        "--no-run",
    ])
    .args([
        "--message-format=json-render-diagnostics",
        "--features",
        feats,
    ])
    // Stripped, no debug info: the bundle must stay well under 64 MiB.
    .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
    .env("CARGO_PROFILE_RELEASE_STRIP", "symbols");
    println!("$ {}", util::show(&cmd));
    let out = cmd.stderr(std::process::Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(Failure::new("building the release test binaries failed"));
    }
    let bins = test_binaries(&String::from_utf8_lossy(&out.stdout));
    if bins.is_empty() {
        return Err(Failure::new("cargo built no test executables"));
    }
    let bin_dir = dir.join("bin");
    if bin_dir.exists() {
        std::fs::remove_dir_all(&bin_dir)?;
    }
    std::fs::create_dir_all(&bin_dir)?;
    let mut total = 0u64;
    for b in &bins {
        let dest = bin_dir.join(&b.name);
        std::fs::copy(&b.path, &dest)?;
        // The profile already strips; `strip` (when installed) is a second, harmless pass.
        if let Some(strip) = util::which("strip") {
            let _ = std::process::Command::new(strip).arg(&dest).status();
        }
        let size = std::fs::metadata(&dest)?.len();
        total += size;
        println!("  bin/{:<40} {:>7.1} MiB", b.name, mib(size));
    }
    let run_sh = dir.join("run.sh");
    std::fs::write(&run_sh, RUN_SH)?;
    set_executable(&run_sh)?;
    total += std::fs::metadata(&run_sh)?.len();
    println!(
        "test-gpu: bundle {} : {} test binaries + run.sh, {:.1} MiB in all",
        dir.display(),
        bins.len(),
        mib(total)
    );
    if total > 48 * 1024 * 1024 {
        return Err(Failure(format!(
            "bundle is {:.1} MiB, over the 48 MiB budget",
            mib(total)
        )));
    }
    println!(
        "copy it to a GPU machine and run `{}/run.sh` (logs go to $OUT/gpu-logs)",
        dir.display()
    );
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(unix)]
fn set_executable(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<()> {
    Ok(())
}

/// Test executables from cargo's JSON messages, named `<crate>-lib`, `<crate>-test-<target>` or
/// `<crate>-bin-<target>`.
fn test_binaries(messages: &str) -> Vec<TestBinary> {
    let mut out = Vec::new();
    for line in messages.lines().filter(|l| l.starts_with('{')) {
        let Ok(j) = Json::parse(line) else { continue };
        if j.get("reason").and_then(Json::as_str) != Some("compiler-artifact") {
            continue;
        }
        let is_test = j
            .get("profile")
            .and_then(|p| p.get("test"))
            .and_then(Json::as_bool);
        let Some(exe) = j.get("executable").and_then(Json::as_str) else {
            continue;
        };
        if is_test != Some(true) {
            continue;
        }
        let pkg = package_name(j.get("package_id").and_then(Json::as_str).unwrap_or(""));
        let target = j.get("target");
        let tname = target
            .and_then(|t| t.get("name"))
            .and_then(Json::as_str)
            .unwrap_or("");
        let kind = target
            .and_then(|t| t.get("kind"))
            .map(Json::items)
            .unwrap_or_default()
            .first()
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let name = match kind.as_str() {
            "lib" | "rlib" | "cdylib" | "proc-macro" => format!("{pkg}-lib"),
            k => format!("{pkg}-{k}-{tname}"),
        };
        out.push(TestBinary {
            path: exe.into(),
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The package name in a cargo package id such as `path+file:///w/crates/nn#0.1.0` or
/// `path+file:///w/crates/x#nn@0.1.0`.
fn package_name(id: &str) -> String {
    let (path, frag) = id.split_once('#').unwrap_or((id, ""));
    match frag.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => path.rsplit('/').next().unwrap_or(path).to_string(),
    }
}

const RUN_SH: &str = r#"#!/usr/bin/env bash
# Runs frugal's CUDA test binaries (built by `cargo xtask test-gpu --bundle DIR`) on a GPU
# machine with no Rust toolchain. Logs: ${OUT:-.}/gpu-logs/<binary>.log. Extra arguments go to
# every test binary (e.g. a test-name filter). Exits non-zero if any binary fails.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
logs="${OUT:-.}/gpu-logs"
mkdir -p "$logs"
echo "== GPU"
nvidia-smi -L 2>/dev/null || echo "nvidia-smi not found"
echo "== CUDA libraries (ldconfig -p)"
ldconfig -p 2>/dev/null | grep -E 'libcuda|libnvrtc|libcublas' || echo "none of libcuda/libnvrtc/libcublas in the ldconfig cache"
if [ -n "${LD_LIBRARY_PATH:-}" ]; then
  echo "== CUDA libraries on LD_LIBRARY_PATH"
  IFS=: read -ra dirs <<<"$LD_LIBRARY_PATH"
  for d in "${dirs[@]}"; do
    ls "$d" 2>/dev/null | grep -E 'libcuda|libnvrtc|libcublas' | sed "s|^|$d/|"
  done
fi
fail=0
for b in "$here"/bin/*; do
  name="$(basename "$b")"
  start=$(date +%s)
  if "$b" "$@" >"$logs/$name.log" 2>&1; then status=PASS; else status=FAIL; fail=1; fi
  summary="$(grep -E '^test result:' "$logs/$name.log" | tail -1)"
  echo "$status $name ($(( $(date +%s) - start ))s) ${summary:-no test summary, see $logs/$name.log}"
  if [ "$status" = FAIL ]; then
    grep -E '^test .* FAILED$|panicked at|CudaUnavailable' "$logs/$name.log" | head -20
  fi
done
if [ "$fail" = 0 ]; then echo "run.sh: all test binaries passed"; else echo "run.sh: FAILURES (logs in $logs)"; fi
exit "$fail"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_executables_in_cargo_messages() {
        let msgs = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/kernels#0.1.0","target":{"kind":["lib"],"name":"kernels"},"profile":{"test":true},"executable":"/t/kernels-abc"}
{"reason":"compiler-artifact","package_id":"path+file:///w/crates/kernels#0.1.0","target":{"kind":["lib"],"name":"kernels"},"profile":{"test":false},"executable":null}
{"reason":"compiler-artifact","package_id":"path+file:///w/crates/lt#lion-tiger@0.1.0","target":{"kind":["test"],"name":"resume"},"profile":{"test":true},"executable":"/t/resume-1"}
{"reason":"build-finished","success":true}"#;
        let b = test_binaries(msgs);
        let names: Vec<&str> = b.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, vec!["kernels-lib", "lion-tiger-test-resume"]);
        assert_eq!(b[0].path, PathBuf::from("/t/kernels-abc"));
    }
}
