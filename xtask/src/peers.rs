//! Peers: Python scripts under `xtask/peers/*.py` that time what users would otherwise pick
//! (numpy's OpenBLAS GEMM today; PyTorch/JAX implementations later) in the same run as the
//! criterion benches.
//!
//! A script declares itself in `# key: value` lines at its top:
//!   `# peer: <description>`              shown in the output
//!   `# requires: numpy torch==2.5.1`     pip requirements, installed once into a cache folder
//!   `# unset-env: OPENBLAS_CORETYPE ...` variables removed from the script's environment only
//!   `# ceiling-for: matmul other_group`  groups whose ceiling this peer provides
//! It reads JSON lines `{"group": .., "param": .., "function": ..}` on stdin (every criterion
//! result of this run), and prints JSON lines `{"group", "function", "param", "value", "unit",
//! "ceiling": bool}` on stdout; other lines are shown as progress. `FRUGAL_BENCH_QUICK=1` asks for
//! fewer repeats.

use crate::bench_summary::Measurement;
use crate::json::{self, Json};
use crate::util::{self, Failure, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A peer script and what its header declares.
#[derive(Debug, Default)]
pub struct Peer {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub requires: Vec<String>,
    pub unset_env: Vec<String>,
    pub ceiling_for: Vec<String>,
}

/// Every `xtask/peers/*.py`, sorted by name.
pub fn discover() -> Vec<Peer> {
    let dir = util::workspace_root().join("xtask/peers");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "py"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths.into_iter().map(|p| parse_header(&p)).collect()
}

fn parse_header(path: &Path) -> Peer {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut peer = Peer {
        name: path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        path: path.to_path_buf(),
        ..Default::default()
    };
    for line in text
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
    {
        let Some((key, value)) = line.trim_start_matches('#').split_once(':') else {
            continue;
        };
        let words = || {
            value
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        match key.trim() {
            "peer" => peer.description = value.trim().to_string(),
            "requires" => peer.requires.extend(words()),
            "unset-env" => peer.unset_env.extend(words()),
            "ceiling-for" => peer.ceiling_for.extend(words()),
            _ => {}
        }
    }
    peer
}

/// The folder the peers' Python packages are pip-installed into (used as `PYTHONPATH`).
fn site_dir() -> PathBuf {
    util::cache_dir().join("peers/site")
}

/// Installs the union of the peers' requirements into [`site_dir`] (once per set).
fn install(peers: &[Peer]) -> Result<()> {
    let mut reqs: Vec<String> = peers.iter().flat_map(|p| p.requires.clone()).collect();
    reqs.sort();
    reqs.dedup();
    if reqs.is_empty() {
        return Ok(());
    }
    let site = site_dir();
    let stamp = site.join(".frugal-installed.txt");
    let want = reqs.join(" ");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want) {
        return Ok(());
    }
    std::fs::create_dir_all(&site)?;
    println!(
        "bench: installing peer requirements ({want}) into {}",
        site.display()
    );
    if !util::pip_install(&site, &["--upgrade"], &reqs)? {
        return Err(Failure(format!(
            "pip could not install the peers' requirements: {want}"
        )));
    }
    std::fs::write(&stamp, &want)?;
    Ok(())
}

/// Runs every peer on this run's criterion results; returns their measurements.
pub fn run_all(peers: &[Peer], results: &[Measurement], quick: bool) -> Result<Vec<Measurement>> {
    install(peers)?;
    let mut input = String::new();
    for m in results {
        input.push_str(&format!(
            "{{\"group\": {}, \"function\": {}, \"param\": {}}}\n",
            json::quote(&m.group),
            json::quote(&m.function),
            json::quote(&m.param)
        ));
    }
    let mut out = Vec::new();
    for p in peers {
        println!("\n==== peer {}: {} ====", p.name, p.description);
        let mut cmd = Command::new(util::python());
        cmd.arg(&p.path)
            .env("PYTHONPATH", site_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if quick {
            cmd.env("FRUGAL_BENCH_QUICK", "1");
        } else {
            cmd.env_remove("FRUGAL_BENCH_QUICK");
        }
        for v in &p.unset_env {
            cmd.env_remove(v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Failure(format!("cannot run {}: {e}", p.path.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let mut got = 0;
        for line in text.lines() {
            match parse_line(line, &p.name) {
                Some(m) => {
                    got += 1;
                    out.push(m);
                }
                None => println!("  {line}"),
            }
        }
        if !output.status.success() {
            return Err(Failure(format!(
                "peer {} failed ({})",
                p.name, output.status
            )));
        }
        println!("  {got} measurement(s)");
    }
    Ok(out)
}

fn parse_line(line: &str, peer: &str) -> Option<Measurement> {
    if !line.trim_start().starts_with('{') {
        return None;
    }
    let j = Json::parse(line).ok()?;
    let s = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
    Some(Measurement {
        paired: None,
        group: s("group")?,
        function: s("function")?,
        param: s("param")?,
        value: j.get("value")?.as_f64()?,
        unit: s("unit")?,
        median_ns: j.get("median_ns").and_then(Json::as_f64),
        source: format!("peer:{peer}"),
        ceiling: j.get("ceiling").and_then(Json::as_bool).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers_and_result_lines() {
        let dir = std::env::temp_dir().join(format!("xtask-peer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("gemm.py");
        std::fs::write(&f, "# peer: numpy GEMM\n# requires: numpy\n# unset-env: A B\n# ceiling-for: matmul\nimport sys\n# requires: not-read\n").unwrap();
        let p = parse_header(&f);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            (p.name.as_str(), p.description.as_str()),
            ("gemm", "numpy GEMM")
        );
        assert_eq!(
            (p.requires, p.unset_env, p.ceiling_for),
            (
                vec!["numpy".into()],
                vec!["A".into(), "B".into()],
                vec!["matmul".into()]
            )
        );
        let m = parse_line(r#"{"group": "matmul", "function": "numpy", "param": "m8k8n8", "value": 4.5, "unit": "GFLOP/s", "ceiling": true}"#, "gemm").unwrap();
        assert!(m.ceiling && m.value == 4.5 && m.source == "peer:gemm");
        assert!(parse_line("timing m8k8n8 ...", "gemm").is_none());
    }
}
