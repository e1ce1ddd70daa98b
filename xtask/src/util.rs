//! Shared helpers: the failure type, running commands, the workspace layout, cache folders.

use crate::json::Json;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Why a task failed, printed once at the end.
#[derive(Debug)]
pub struct Failure(pub String);

impl Failure {
    pub fn new(msg: impl Into<String>) -> Failure {
        Failure(msg.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure(format!("I/O error: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

/// True under CI (`CI=true` or `CI=1`): skips become failures.
pub fn is_ci() -> bool {
    matches!(
        std::env::var("CI")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("true" | "1" | "yes")
    )
}

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    // xtask/ sits directly under the root.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// `cargo` as cargo itself was invoked (respects `$CARGO`), run from the workspace root.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

/// Prints `$ cmd args…`, runs it with inherited stdio, and returns whether it succeeded.
pub fn run_status(cmd: &mut Command) -> Result<bool> {
    println!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| Failure(format!("cannot run `{}`: {e}", show(cmd))))?;
    Ok(status.success())
}

/// Runs with stderr inherited and stdout both echoed and captured; returns (success, stdout).
pub fn run_tee(cmd: &mut Command) -> Result<(bool, String)> {
    use std::io::{BufRead, BufReader, Write};
    println!("$ {}", show(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Failure(format!("cannot run `{}`: {e}", show(cmd))))?;
    let mut captured = String::new();
    if let Some(out) = child.stdout.take() {
        let stdout = std::io::stdout();
        for line in BufReader::new(out).lines() {
            let line = line?;
            let mut lock = stdout.lock();
            let _ = writeln!(lock, "{line}");
            captured.push_str(&line);
            captured.push('\n');
        }
    }
    let status = child.wait()?;
    Ok((status.success(), captured))
}

/// Runs quietly and returns stdout when the command succeeds.
pub fn output_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A command line for printing.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The first executable named `name` on `PATH`.
pub fn which(name: impl AsRef<OsStr>) -> Option<PathBuf> {
    let name = name.as_ref();
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Lines of `ldconfig -p` that mention `needle` (e.g. "libopenblas").
pub fn ldconfig_find(needle: &str) -> Vec<String> {
    let ldconfig = ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .into_iter()
        .find_map(|c| output_of(Command::new(c).arg("-p")));
    ldconfig
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(|l| l.trim().to_string())
        .collect()
}

/// frugal's per-user cache: `$FRUGAL_CACHE`, else `${XDG_CACHE_HOME:-$HOME/.cache}/frugal`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FRUGAL_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| workspace_root().join("target"));
    base.join("frugal")
}

/// The python interpreter with pip: `$PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `python -m pip install` of `packages` (binary wheels only, quietly, as root too) into the
/// folder `target`, with `extra` options; true when pip succeeded.
pub fn pip_install(target: &Path, extra: &[&str], packages: &[impl AsRef<OsStr>]) -> Result<bool> {
    let mut pip = Command::new(python());
    pip.env("PIP_BREAK_SYSTEM_PACKAGES", "1")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--root-user-action=ignore", "--only-binary=:all:"])
        .args(extra)
        .arg("--target")
        .arg(target)
        .args(packages);
    run_status(&mut pip)
}

/// Seconds since `t`, formatted.
pub fn secs(t: Instant) -> String {
    format!("{:.1}s", t.elapsed().as_secs_f64())
}

/// One workspace package as `cargo metadata --no-deps` describes it.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub features: Vec<String>,
    /// Names of `bench` targets.
    pub benches: Vec<String>,
}

/// The workspace members (from `cargo metadata --no-deps`), sorted by name.
pub fn workspace_packages() -> Result<Vec<Package>> {
    let out = output_of(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))
        .ok_or_else(|| {
            Failure::new("`cargo metadata` failed (is the workspace Cargo.toml valid?)")
        })?;
    let meta = Json::parse(&out).map_err(|e| Failure(format!("cargo metadata: {e}")))?;
    let mut pkgs = Vec::new();
    for p in meta.get("packages").map(Json::items).unwrap_or_default() {
        let name = p
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let features = p
            .get("features")
            .map(Json::keys)
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string)
            .collect();
        let benches = p
            .get("targets")
            .map(Json::items)
            .unwrap_or_default()
            .iter()
            .filter(|t| {
                t.get("kind")
                    .map(Json::items)
                    .unwrap_or_default()
                    .iter()
                    .any(|k| k.as_str() == Some("bench"))
            })
            .filter_map(|t| t.get("name").and_then(Json::as_str).map(str::to_string))
            .collect();
        pkgs.push(Package {
            name,
            features,
            benches,
        });
    }
    pkgs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pkgs)
}

/// `pkg/cuda` for every member with a `cuda` feature, comma-joined (empty when none).
pub fn cuda_features(pkgs: &[Package]) -> String {
    pkgs.iter()
        .filter(|p| p.features.iter().any(|f| f == "cuda"))
        .map(|p| format!("{}/cuda", p.name))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a CUDA GPU looks usable here: `nvidia-smi -L` lists one, or `/dev/nvidia0` exists
/// and the driver library (libcuda.so) is installed. Returns what was found or missing.
pub fn gpu_present() -> (bool, String) {
    if let Some(list) = output_of(Command::new("nvidia-smi").arg("-L"))
        && list.contains("GPU")
    {
        return (true, list.trim().to_string());
    }
    let libcuda = !ldconfig_find("libcuda.so").is_empty()
        || std::env::var_os("LD_LIBRARY_PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("libcuda.so.1").exists()));
    match (Path::new("/dev/nvidia0").exists(), libcuda) {
        (true, true) => (true, "/dev/nvidia0 and libcuda.so present".into()),
        (true, false) => (
            false,
            "/dev/nvidia0 exists but the driver library libcuda.so was not found".into(),
        ),
        (false, true) => (
            false,
            "libcuda.so is installed but no GPU is visible (nvidia-smi -L, /dev/nvidia0)".into(),
        ),
        (false, false) => (
            false,
            "no GPU: nvidia-smi lists none, no /dev/nvidia0, no libcuda.so".into(),
        ),
    }
}

/// Cargo's target folder: `$CARGO_TARGET_DIR`, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Every file under `dir` (recursively) whose extension is `ext`, in the order of a depth-first
/// walk; unreadable folders are skipped.
pub fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out
}
