//! `cargo xtask cuda-check`: compile every `.cu` under `crates/` with NVRTC for `compute_90`,
//! exactly as the `kernels` crate does at run time (same virtual architecture, no extra include
//! paths but the preludes' folder), and report each kernel's registers and spills from
//! `ptxas -v` when ptxas is there.
//!
//! NVRTC comes from a CUDA install when one is found; otherwise the pinned CUDA 13.0 wheels are
//! pip-installed into `~/.cache/frugal/cuda-13.0` (13.0 so the PTX is accepted by a 13.0 driver).
//! Under `CI=true` a failed install is a failure; elsewhere it is a loud skip. A kernel that does
//! not compile is always a failure, with NVRTC's log.
//!
//! A `.cu` file may `#include "x.cuh"` a shared prelude from [`PRELUDE_DIR`]; at run time the
//! `kernels` crate pastes the same file in from an embedded copy (see `kernels::cuda::prelude`),
//! here NVRTC reads it from disk through `--include-path`.

use crate::nvrtc::Nvrtc;
use crate::util::{self, Failure, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The CUDA 13.0 wheels: NVRTC (+ the runtime, as the reference recipe installs) and ptxas.
const WHEELS: &[&str] = &[
    "nvidia-cuda-nvcc==13.0.88",
    "nvidia-cuda-nvrtc==13.0.88",
    "nvidia-cuda-runtime==13.0.96",
];
const SERIES: &str = "13.0";
/// The shared device code `.cu` files include, relative to the workspace root.
const PRELUDE_DIR: &str = "crates/kernels/src/cuda/prelude";

struct Options {
    arch: String,
    /// Files or folders to check instead of `crates/`.
    paths: Vec<PathBuf>,
    ptx_dir: Option<PathBuf>,
    verbose: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        arch: "compute_90".into(),
        paths: Vec::new(),
        ptx_dir: None,
        verbose: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--arch" => {
                o.arch = it
                    .next()
                    .ok_or(Failure::new("--arch needs a value"))?
                    .clone()
            }
            "--ptx-dir" => {
                o.ptx_dir = Some(
                    it.next()
                        .ok_or(Failure::new("--ptx-dir needs a value"))?
                        .into(),
                )
            }
            "-v" | "--verbose" => o.verbose = true,
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask cuda-check [--arch compute_90] [--ptx-dir DIR] [--verbose] \
                     [PATH...]   (default PATH: crates/)"
                );
                std::process::exit(0);
            }
            other if other.starts_with('-') => {
                return Err(Failure(format!("cuda-check: unknown argument `{other}`")));
            }
            path => o.paths.push(path.into()),
        }
    }
    if !o.arch.starts_with("compute_") {
        return Err(Failure::new(
            "--arch must be a virtual architecture such as compute_90",
        ));
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    let root = util::workspace_root();
    let dirs = if opts.paths.is_empty() {
        vec![root.join("crates")]
    } else {
        opts.paths.clone()
    };
    let sources: Vec<PathBuf> = dirs.iter().flat_map(|d| find_cu(d)).collect();
    if sources.is_empty() {
        println!("cuda-check: no .cu files found");
        return Ok(());
    }
    let (nvrtc, lib, tool_root) = match load_nvrtc() {
        Ok(x) => x,
        Err(e) if !util::is_ci() => {
            println!("cuda-check: SKIPPED (not under CI): {e}");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let (maj, min) = nvrtc.version();
    let ptxas = find_ptxas(tool_root.as_deref());
    println!("cuda-check: NVRTC {maj}.{min} from {lib}");
    match &ptxas {
        Some(p) => println!("cuda-check: ptxas {}", p.display()),
        None => println!("cuda-check: ptxas not found: registers and spills are not reported"),
    }
    let sm = opts.arch.replace("compute_", "sm_");
    let arch_opt = format!("--gpu-architecture={}", opts.arch);
    let include_opt = format!("--include-path={}", root.join(PRELUDE_DIR).display());
    println!(
        "\n{:<50} {:<26} {:>5} {:>7} {:>12} {:>7}",
        "file", "kernel", "regs", "stack", "spill st/ld", "smem"
    );
    let (mut failed, mut kernels) = (Vec::new(), 0usize);
    for path in &sources {
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let src = std::fs::read_to_string(path)?;
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let out = nvrtc
            .compile(&src, &name, &[&arch_opt, &include_opt])
            .map_err(Failure)?;
        let ptx = match out.ptx {
            Ok(ptx) => ptx,
            Err(status) => {
                println!(
                    "{rel:<50} FAILED to compile ({status}). NVRTC log:\n{}",
                    out.log.trim_end()
                );
                failed.push(rel);
                continue;
            }
        };
        if !out.log.trim().is_empty() {
            println!("{rel}: NVRTC log:\n{}", out.log.trim_end());
        }
        let entries = ptx_entries(&ptx);
        kernels += entries.len();
        if let Some(dir) = &opts.ptx_dir {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join(name.replace(".cu", ".ptx")), &ptx)?;
        }
        let Some(ptxas) = &ptxas else {
            for k in &entries {
                println!(
                    "{rel:<50} {k:<26} {:>5} {:>7} {:>12} {:>7}",
                    "?", "?", "?", "?"
                );
            }
            continue;
        };
        match run_ptxas(ptxas, &ptx, &sm) {
            Ok((stats, text)) => {
                if opts.verbose || text.contains("warning") {
                    println!("{}", text.trim_end());
                }
                for s in stats {
                    let spill = format!("{}/{} B", s.spill_stores, s.spill_loads);
                    let (stack, smem) = (format!("{} B", s.stack), format!("{} B", s.smem));
                    println!(
                        "{rel:<50} {:<26} {:>5} {stack:>7} {spill:>12} {smem:>7}",
                        s.name, s.regs
                    );
                }
            }
            Err(text) => {
                println!(
                    "{rel:<50} ptxas FAILED on NVRTC's PTX:\n{}",
                    text.trim_end()
                );
                failed.push(rel);
            }
        }
    }
    println!(
        "\ncuda-check: {} file(s), {kernels} kernel(s) for {}; {} failed",
        sources.len(),
        opts.arch,
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "kernels that do not compile: {}",
            failed.join(", ")
        )))
    }
}

/// Every `.cu` file under `dir` (or `dir` itself when it is a file), sorted.
pub fn find_cu(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    let mut out = util::files_under(dir, "cu");
    out.sort();
    out
}

/// Entry points (`.entry name(`) declared in a PTX module.
fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| l.split(".entry ").nth(1))
        .map(|rest| {
            rest.split(['(', ' '])
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .collect()
}

/// The cache folder the wheels go into.
fn wheel_home() -> PathBuf {
    util::cache_dir().join(format!("cuda-{SERIES}"))
}

/// A CUDA-like tree (bin/, lib/) inside the wheel install.
fn wheel_tree() -> PathBuf {
    wheel_home().join("site/nvidia/cu13")
}

/// Loads NVRTC: `$FRUGAL_NVRTC`, a CUDA install (loader search path, `$CUDA_HOME`,
/// `/usr/local/cuda`), else the pinned wheels (installed on first use). Returns the library,
/// where it came from, and the toolkit root (for ptxas) when known.
fn load_nvrtc() -> Result<(Nvrtc, String, Option<PathBuf>)> {
    let mut tried = Vec::new();
    if let Ok(p) = std::env::var("FRUGAL_NVRTC") {
        let root = Path::new(&p)
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        return Nvrtc::open(&p)
            .map(|n| (n, p.clone(), root))
            .map_err(|e| Failure(format!("FRUGAL_NVRTC={p} cannot be loaded: {e}")));
    }
    for name in ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"] {
        match Nvrtc::open(name) {
            Ok(n) => return Ok((n, format!("{name} (system loader path)"), None)),
            Err(e) => tried.push(e),
        }
    }
    let homes = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .chain([PathBuf::from("/usr/local/cuda")]);
    for home in homes {
        for lib in ["lib64", "lib"] {
            for so in ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"] {
                let p = home.join(lib).join(so);
                if p.is_file()
                    && let Ok(n) = Nvrtc::open(&p.to_string_lossy())
                {
                    return Ok((n, p.display().to_string(), Some(home)));
                }
            }
        }
    }
    println!("cuda-check: no CUDA toolkit found; using the pinned CUDA {SERIES} wheels");
    install_wheels()?;
    let lib = wheel_tree().join("lib/libnvrtc.so.13");
    let libs = lib.to_string_lossy().into_owned();
    let n = Nvrtc::open(&libs).map_err(|e| Failure(format!("cannot load {libs}: {e}")))?;
    Ok((n, libs, Some(wheel_tree())))
}

/// pip-installs [`WHEELS`] into the cache (once; a stamp file records what is there). Installs
/// into a fresh folder and renames it into place, under a lock, as pip --target cannot merge.
fn install_wheels() -> Result<()> {
    let home = wheel_home();
    let stamp = home.join("installed.txt");
    let want = WHEELS.join(" ");
    let ready = || {
        std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want)
            && wheel_tree().join("lib/libnvrtc.so.13").is_file()
    };
    if ready() {
        return Ok(());
    }
    let parent = home.parent().unwrap_or(&home).to_path_buf();
    std::fs::create_dir_all(&parent)?;
    let lock = std::fs::File::create(parent.join(format!(".cuda-{SERIES}.lock")))?;
    lock.lock()?;
    if ready() {
        return Ok(());
    }
    let tmp = parent.join(format!("cuda-{SERIES}.tmp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    println!(
        "cuda-check: installing {want} into {} (about 250 MB, once)",
        home.display()
    );
    let ok = util::pip_install(&tmp.join("site"), &["--no-deps", "--no-compile"], WHEELS)?;
    if !ok || !tmp.join("site/nvidia/cu13/lib/libnvrtc.so.13").is_file() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(Failure(format!(
            "pip could not install the NVRTC wheels ({want}); is there network access and pip \
             for `{}`?",
            util::python()
        )));
    }
    std::fs::write(tmp.join("installed.txt"), &want)?;
    let _ = std::fs::remove_dir_all(&home);
    std::fs::rename(&tmp, &home)?;
    Ok(())
}

/// ptxas from the same toolkit as NVRTC, else from `PATH`.
fn find_ptxas(tool_root: Option<&Path>) -> Option<PathBuf> {
    tool_root
        .map(|r| r.join("bin/ptxas"))
        .filter(|p| p.is_file())
        .or_else(|| util::which("ptxas"))
        .or_else(|| Some(PathBuf::from("/usr/local/cuda/bin/ptxas")).filter(|p| p.is_file()))
}

/// Resource use of one kernel as `ptxas -v` reports it.
#[derive(Debug, Default, PartialEq)]
pub struct KernelStats {
    pub name: String,
    pub regs: u32,
    pub stack: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
    pub smem: u32,
}

fn run_ptxas(
    ptxas: &Path,
    ptx: &str,
    sm: &str,
) -> std::result::Result<(Vec<KernelStats>, String), String> {
    let dir = std::env::temp_dir().join(format!("frugal-cuda-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let input = dir.join("k.ptx");
    std::fs::write(&input, ptx).map_err(|e| e.to_string())?;
    let out = Command::new(ptxas)
        .arg("-v")
        .arg(format!("-arch={sm}"))
        .arg(&input)
        .arg("-o")
        .arg(dir.join("k.cubin"))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ptxas.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = out?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok((parse_ptxas(&text), text))
    } else {
        Err(text)
    }
}

/// Parses `ptxas -v` output into per-kernel stats.
pub fn parse_ptxas(text: &str) -> Vec<KernelStats> {
    let mut out: Vec<KernelStats> = Vec::new();
    let num_before = |s: &str, unit: &str| -> Option<u32> {
        let i = s.find(unit)?;
        s[..i].split_whitespace().last()?.parse().ok()
    };
    for line in text.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let name = rest.split('\'').next().unwrap_or("").to_string();
            out.push(KernelStats {
                name,
                ..Default::default()
            });
        } else if let Some(k) = out.last_mut() {
            if line.contains("bytes stack frame") {
                k.stack = num_before(line, "bytes stack frame").unwrap_or(0);
                k.spill_stores = num_before(line, "bytes spill stores").unwrap_or(0);
                k.spill_loads = num_before(line, "bytes spill loads").unwrap_or(0);
            } else if line.contains("Used ") && line.contains(" registers") {
                k.regs = num_before(line, "registers").unwrap_or(0);
                k.smem = num_before(line, "bytes smem").unwrap_or(0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ptxas_verbose_output() {
        let text = "ptxas info    : 0 bytes gmem\n\
ptxas info    : Compiling entry function 'silu_fwd_f32' for 'sm_90'\n\
ptxas info    : Function properties for silu_fwd_f32\n\
    8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\n\
ptxas info    : Used 10 registers, used 0 barriers, 1024 bytes smem, 372 bytes cmem[0]\n\
ptxas info    : Compiling entry function 'silu_bwd_f32' for 'sm_90'\n\
ptxas info    : Function properties for silu_bwd_f32\n\
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
ptxas info    : Used 12 registers, used 0 barriers, 380 bytes cmem[0]\n";
        let s = parse_ptxas(text);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            KernelStats {
                name: "silu_fwd_f32".into(),
                regs: 10,
                stack: 8,
                spill_stores: 4,
                spill_loads: 12,
                smem: 1024
            }
        );
        assert_eq!(
            (s[1].name.as_str(), s[1].regs, s[1].smem),
            ("silu_bwd_f32", 12, 0)
        );
    }

    #[test]
    fn finds_ptx_entries() {
        let ptx = ".visible .entry add_fwd_f32(\n\t.param .u64 a\n)\n.visible .entry add_bwd_f32(";
        assert_eq!(ptx_entries(ptx), vec!["add_fwd_f32", "add_bwd_f32"]);
    }
}
