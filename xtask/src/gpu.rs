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
    let cuda_crates: Vec<String> = pkgs
        .iter()
        .filter(|p| p.features.iter().any(|f| f == "cuda"))
        .map(|p| p.name.clone())
        .collect();
    match bundle {
        Some(dir) => build_bundle(&dir, &feats, &cuda_crates),
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

fn build_bundle(dir: &Path, feats: &str, cuda_crates: &[String]) -> Result<()> {
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
    let (bins, left_out) = test_binaries(&String::from_utf8_lossy(&out.stdout), cuda_crates);
    if !left_out.is_empty() {
        println!(
            "test-gpu: left out (no CUDA path; CI runs them on the CPU): {}",
            left_out.join(", ")
        );
    }
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

/// Test executables from cargo's JSON messages that can exercise CUDA, named `<crate>-lib`,
/// `<crate>-test-<target>` or `<crate>-bin-<target>`: the lib tests of every crate with a `cuda`
/// feature, and those crates' other test targets whose source mentions `gpu_test!` or `cuda`.
/// Returns (kept, names of the test targets left out).
fn test_binaries(messages: &str, cuda_crates: &[String]) -> (Vec<TestBinary>, Vec<String>) {
    let (mut out, mut left_out) = (Vec::new(), Vec::new());
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
        let field = |k: &str| {
            target
                .and_then(|t| t.get(k))
                .and_then(Json::as_str)
                .unwrap_or("")
        };
        let kind = target
            .and_then(|t| t.get("kind"))
            .map(Json::items)
            .unwrap_or_default()
            .first()
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let lib = matches!(kind.as_str(), "lib" | "rlib" | "cdylib" | "proc-macro");
        let name = if lib {
            format!("{pkg}-lib")
        } else {
            format!("{pkg}-{kind}-{}", field("name"))
        };
        let cuda_crate = cuda_crates.contains(&pkg);
        if cuda_crate && (lib || mentions_cuda(Path::new(field("src_path")))) {
            out.push(TestBinary {
                path: exe.into(),
                name,
            });
        } else {
            left_out.push(name);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    left_out.sort();
    (out, left_out)
}

/// Whether a test target's source (its file, or its folder when it is a `main.rs`) mentions
/// `gpu_test!` or `cuda`.
fn mentions_cuda(src: &Path) -> bool {
    let files: Vec<PathBuf> = match src.file_name().and_then(|n| n.to_str()) {
        Some("main.rs") | Some("mod.rs") => src
            .parent()
            .and_then(|d| std::fs::read_dir(d).ok())
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default(),
        _ => vec![src.to_path_buf()],
    };
    files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| t.contains("gpu_test!") || t.contains("cuda"))
    })
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
    ls "$d" 2>/dev/null | grep -E '^(libcuda\.so|libnvrtc|libcublas)' | sed "s|^|$d/|"
  done
fi
# cudarc dlopens libnvrtc and libcublas by name; when the ldconfig cache lacks them, look in the
# usual CUDA folders and in Python's nvidia-* wheels (e.g. PyTorch's) and put those on the path.
extra=()
for lib in libnvrtc.so libcublas.so; do
  ldconfig -p 2>/dev/null | grep -q "$lib" && continue
  IFS=: read -ra ldp <<<"${LD_LIBRARY_PATH:-}"
  found=""
  for d in "${ldp[@]}"; do ls "$d/$lib"* >/dev/null 2>&1 && found="$d" && break; done
  [ -n "$found" ] && continue
  cands=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64)
  if command -v python3 >/dev/null; then
    while IFS= read -r d; do cands+=("$d"); done < <(python3 -c 'import glob, site
for s in site.getsitepackages() + [site.getusersitepackages()]:
    print("\n".join(glob.glob(s + "/nvidia/*/lib")))' 2>/dev/null)
  fi
  for d in "${cands[@]}"; do
    if ls "$d/$lib"* >/dev/null 2>&1; then extra+=("$d"); echo "found $lib in $d (added to LD_LIBRARY_PATH)"; break; fi
  done
done
if [ "${#extra[@]}" -gt 0 ]; then
  LD_LIBRARY_PATH="$(IFS=:; echo "${extra[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
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
        let dir = std::env::temp_dir().join(format!("xtask-gpu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gpu.rs"), "kernels::gpu_test! { fn f() {} }").unwrap();
        std::fs::write(dir.join("cpu.rs"), "#[test] fn f() {}").unwrap();
        let d = dir.display();
        let msgs = format!(
            r#"{{"reason":"compiler-artifact","package_id":"path+file:///w/crates/kernels#0.1.0","target":{{"kind":["lib"],"name":"kernels","src_path":"/w/lib.rs"}},"profile":{{"test":true}},"executable":"/t/kernels-abc"}}
{{"reason":"compiler-artifact","package_id":"path+file:///w/crates/kernels#0.1.0","target":{{"kind":["lib"],"name":"kernels"}},"profile":{{"test":false}},"executable":null}}
{{"reason":"compiler-artifact","package_id":"path+file:///w/crates/lt#lion-tiger@0.1.0","target":{{"kind":["test"],"name":"gpu","src_path":"{d}/gpu.rs"}},"profile":{{"test":true}},"executable":"/t/gpu-1"}}
{{"reason":"compiler-artifact","package_id":"path+file:///w/crates/lt#lion-tiger@0.1.0","target":{{"kind":["test"],"name":"cpu","src_path":"{d}/cpu.rs"}},"profile":{{"test":true}},"executable":"/t/cpu-1"}}
{{"reason":"compiler-artifact","package_id":"path+file:///w/crates/adam#0.1.0","target":{{"kind":["lib"],"name":"adam","src_path":"/w/lib.rs"}},"profile":{{"test":true}},"executable":"/t/adam-1"}}
{{"reason":"build-finished","success":true}}"#
        );
        let crates = vec!["kernels".to_string(), "lion-tiger".to_string()];
        let (kept, left) = test_binaries(&msgs, &crates);
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<&str> = kept.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, vec!["kernels-lib", "lion-tiger-test-gpu"]);
        assert_eq!(kept[0].path, PathBuf::from("/t/kernels-abc"));
        assert_eq!(left, vec!["adam-lib", "lion-tiger-test-cpu"]);
    }
}
