//! `cargo xtask bench [FILTER] [--quick] [--peers] [--rounds N] [--cuda]`: runs every criterion
//! bench of the workspace, then the peers (with `--peers`), and prints one table of achieved rate
//! against the ceiling measured in the same run. With `--rounds N` it does that N times (benches
//! then peers, so a load change on a shared machine hits both alike) and reports the median of
//! every figure over the rounds. Where a bench times a function and its ceiling interleaved (the
//! elementwise ops), the percentage is the median of the per-call ratios. The table is also
//! written to `target/bench-summary.md` and `target/bench-summary.json`.

use crate::bench_summary::{self, Measurement};
use crate::peers;
use crate::util::{self, Failure, Result};
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

#[derive(Default)]
struct Options {
    filter: Option<String>,
    quick: bool,
    peers: bool,
    cuda: bool,
    rounds: usize,
}

const USAGE: &str = "usage: cargo xtask bench [FILTER] [--quick] [--peers] [--rounds N] [--cuda]
  FILTER      criterion filter (a regex over ids such as silu/cpu_t2/n10000000)
  --quick     short warm-up and measurement, and FRUGAL_BENCH_QUICK=1 (benches may use smaller sizes)
  --peers     also run the Python peers in xtask/peers/ (numpy OpenBLAS GEMM = the matmul ceiling)
  --rounds N  run benches then peers N times, interleaved, and report medians (default 1)
  --cuda      build the benches with the crates' `cuda` features (needs a GPU)";

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        rounds: 1,
        ..Options::default()
    };
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => {
                o.rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| {
                        Failure(format!("bench: --rounds needs a count ≥ 1\n{USAGE}"))
                    })?;
            }
            "--quick" => o.quick = true,
            "--peers" => o.peers = true,
            "--cuda" => o.cuda = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            f if !f.starts_with('-') && o.filter.is_none() => o.filter = Some(f.to_string()),
            other => {
                return Err(Failure(format!(
                    "bench: unexpected argument `{other}`\n{USAGE}"
                )));
            }
        }
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    let t0 = Instant::now();
    let pkgs = util::workspace_packages()?;
    let benches: Vec<String> = pkgs
        .iter()
        .flat_map(|p| p.benches.iter().map(move |b| format!("{}/{b}", p.name)))
        .collect();
    if benches.is_empty() {
        println!(
            "bench: no criterion benches in the workspace yet (crates/*/benches/); nothing to run"
        );
        return Ok(());
    }
    println!(
        "bench: {} bench target(s): {}",
        benches.len(),
        benches.join(", ")
    );
    if opts.cuda {
        let (gpu, what) = util::gpu_present();
        if !gpu {
            return Err(Failure(format!(
                "--cuda needs a CUDA GPU, and none is here: {what}"
            )));
        }
        println!("bench: GPU: {what}");
        if util::cuda_features(&pkgs).is_empty() {
            return Err(Failure::new("--cuda: no crate has a `cuda` feature"));
        }
    }
    // Every cargo call selects the whole workspace (`--workspace --bench NAME`) with the same
    // features, so cargo resolves features once and the per-target runs reuse the first build.
    let features: Vec<String> = if opts.cuda {
        vec!["--features".into(), util::cuda_features(&pkgs)]
    } else {
        Vec::new()
    };
    let mut criterion_args: Vec<String> = opts.filter.iter().cloned().collect();
    criterion_args.push("--noplot".into());
    if opts.quick {
        for a in [
            "--warm-up-time",
            "0.5",
            "--measurement-time",
            "1.5",
            "--sample-size",
            "10",
        ] {
            criterion_args.push(a.into());
        }
    }
    // Build every bench first (in parallel); then run each target on its own, so that one
    // bench that does not build or fails does not hide the others' results.
    let mut build = util::cargo();
    build
        .args(["bench", "--workspace", "--no-run", "--bench", "*"])
        .args(&features);
    let _ = util::run_status(&mut build)?;
    let peer_list = peers::discover();
    let mut failed = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut unmeasured = BTreeMap::new();
    let mut rounds: Vec<Vec<Measurement>> = Vec::new();
    for round in 0..opts.rounds {
        if opts.rounds > 1 {
            println!("\n==== bench round {} of {} ====", round + 1, opts.rounds);
        }
        // Criterion results written from now on belong to this round; older files are ignored.
        let since = SystemTime::now() - std::time::Duration::from_secs(1);
        // Benches that time a function and its ceiling interleaved record the ratios here.
        let paired = util::target_dir().join("bench-paired.jsonl");
        let _ = std::fs::remove_file(&paired);
        let mut names: Vec<&String> = pkgs.iter().flat_map(|p| p.benches.iter()).collect();
        names.sort();
        names.dedup();
        for b in names {
            let mut cmd = util::cargo();
            cmd.args(["bench", "--workspace", "--bench", b])
                .args(&features)
                .arg("--")
                .args(&criterion_args);
            if opts.quick {
                cmd.env("FRUGAL_BENCH_QUICK", "1");
            }
            cmd.env(bench_summary::PAIRED_ENV, &paired);
            if !util::run_status(&mut cmd)? && !failed.contains(b) {
                failed.push(b.clone());
            }
        }
        let mut got = bench_summary::read_criterion(&util::target_dir().join("criterion"), since);
        bench_summary::attach_paired(&mut got, &paired);
        if opts.peers && !got.is_empty() {
            let from_peers = peers::run_all(&peer_list, &got, opts.quick)?;
            got.extend(from_peers);
        }
        rounds.push(got);
    }
    let ok = failed.is_empty();
    notes.extend(
        failed
            .iter()
            .map(|f| format!("bench {f} FAILED to build or run: its results are missing")),
    );
    let mut all = bench_summary::median_over_rounds(rounds);
    if opts.rounds > 1 {
        notes.push(format!(
            "every figure is the median of {} rounds (benches, then peers, in turn)",
            opts.rounds
        ));
    }
    if opts.peers {
        if all.is_empty() {
            notes.push("peers not run: no criterion results to compare with".to_string());
        }
    } else {
        for p in &peer_list {
            for g in &p.ceiling_for {
                let why = format!("ceiling ({}) not measured: run with --peers", p.description);
                unmeasured.insert(g.clone(), why.clone());
                if all.iter().any(|m| &m.group == g) {
                    notes.push(format!("{g}: {why}"));
                }
            }
        }
    }
    for p in &peer_list {
        for g in &p.ceiling_for {
            unmeasured
                .entry(g.clone())
                .or_insert_with(|| format!("{} measured nothing for this size", p.name));
        }
    }
    all.sort_by_key(sort_key);
    let rows = bench_summary::rows(&all, &unmeasured);
    let flags = args.join(" ");
    let md = bench_summary::markdown(&rows, &notes);
    println!("\n==== bench summary ({}) ====\n{md}", util::secs(t0));
    if rows.is_empty() {
        println!("bench: no results (did the filter match anything?)");
    }
    let target = util::target_dir();
    std::fs::create_dir_all(&target)?;
    let header = format!("# cargo xtask bench {flags}\n\n");
    std::fs::write(target.join("bench-summary.md"), header + &md)?;
    std::fs::write(
        target.join("bench-summary.json"),
        bench_summary::to_json(&rows, &all, &notes, &flags),
    )?;
    println!("bench: wrote target/bench-summary.md and target/bench-summary.json");
    if ok {
        Ok(())
    } else {
        Err(Failure::new("a bench failed (see above)"))
    }
}

/// Orders rows by op, then size (numerically where the size is numeric), then impl.
fn sort_key(m: &Measurement) -> (String, Vec<u64>, String, String) {
    let nums = m
        .param
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (m.group.clone(), nums, m.param.clone(), m.function.clone())
}
