//! Interleaved medians of the fused steps against the same-traffic ceiling, on the shapes of
//! `benches/step.rs`: each round times every kernel once, in turn, so that a load change on a
//! shared machine hits all of them alike (criterion times one function after the other).
//!
//! `cargo run --release -p lion-tiger --example step_timing -- n10M n100M [rounds]`

#[path = "../benches/common/mod.rs"]
mod common;

use common::{Bag, bert_shapes, model};
use lion_tiger::cpu::{same_traffic_ceiling, same_traffic_ceiling4};
use lion_tiger::*;
use std::time::Instant;

fn ceiling(m: &mut Bag, ms: &mut [Vec<f32>], vs: Option<&mut [Vec<f32>]>) {
    let mut jobs = Vec::new();
    let mut jobs4 = Vec::new();
    match vs {
        None => {
            for ((_, p), mm) in m.iter_mut().zip(ms.iter_mut()) {
                let g = p.grad.as_ref().unwrap().as_slice::<f32>().unwrap();
                let th = p.value.as_slice_mut::<f32>().unwrap();
                jobs.push((th, mm.as_mut_slice(), g));
            }
        }
        Some(vs) => {
            for (((_, p), mm), vv) in m.iter_mut().zip(ms.iter_mut()).zip(vs.iter_mut()) {
                let g = p.grad.as_ref().unwrap().as_slice::<f32>().unwrap();
                let th = p.value.as_slice_mut::<f32>().unwrap();
                jobs4.push((th, mm.as_mut_slice(), vv.as_mut_slice(), g));
            }
        }
    }
    same_traffic_ceiling(&mut jobs);
    same_traffic_ceiling4(&mut jobs4);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(15);
    let labels: Vec<&str> = args
        .iter()
        .filter(|a| a.parse::<usize>().is_err())
        .map(String::as_str)
        .collect();
    let labels = if labels.is_empty() {
        vec!["n10M"]
    } else {
        labels
    };
    for label in labels {
        let shapes = match label {
            "n1M" => bert_shapes(128, 4, 4096),
            "n10M" => bert_shapes(256, 8, 16384),
            "n100M" => bert_shapes(768, 12, 21000),
            other => panic!("unknown size {other} (n1M, n10M, n100M)"),
        };
        // STEP_TIMING_KIND=Embedding (or Matrix, …): only the parameters of that role.
        let shapes: Vec<_> = match std::env::var("STEP_TIMING_KIND") {
            Ok(k) => shapes
                .into_iter()
                .filter(|s| format!("{:?}", s.2) == k)
                .collect(),
            Err(_) => shapes,
        };
        // Tiger keeps Σθ² of its θ for the next step: each Tiger run gets a model of its own.
        let mut m = model(&shapes);
        let (mut m_tiger, mut m_tiger_sc) = (model(&shapes), model(&shapes));
        let n = m.iter().map(|(_, p)| p.value.numel()).sum::<usize>() as f64;
        let mut ms: Vec<Vec<f32>> = shapes
            .iter()
            .map(|(_, s, _)| vec![0.0; s.iter().product()])
            .collect();
        let mut vs = ms.clone();
        let lion_cfg = LionConfig {
            weight_decay: 0.1,
            ..Default::default()
        };
        let mut lion = Optimizer::lion(lion_cfg, &m).unwrap();
        let mut tiger = Optimizer::tiger(TigerConfig::default(), &m).unwrap();
        let mut tiger_sc = Optimizer::tiger(TigerConfig::default(), &m).unwrap();
        let mut adamw = Optimizer::adamw(AdamWConfig::default(), &m).unwrap();
        let clean = vec![false; tiger.param_names().len()];
        let names = [
            "ceiling 20 B",
            "lion",
            "tiger (flags)",
            "tiger_selfcheck",
            "ceiling 28 B",
            "adamw",
        ];
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        for r in 0..rounds + 1 {
            for (k, t) in times.iter_mut().enumerate() {
                let t0 = Instant::now();
                match k {
                    0 => ceiling(&mut m, &mut ms, None),
                    1 => lion.step(&mut m).unwrap(),
                    2 => tiger.step_with_flags(&mut m_tiger, &clean).unwrap(),
                    3 => tiger_sc.step(&mut m_tiger_sc).unwrap(),
                    4 => ceiling(&mut m, &mut ms, Some(&mut vs)),
                    _ => adamw.step(&mut m).unwrap(),
                }
                if r > 0 {
                    t.push(t0.elapsed().as_secs_f64());
                }
            }
        }
        println!("{label}: {n} parameters, {rounds} interleaved rounds, medians");
        let med: Vec<f64> = times.into_iter().map(median).collect();
        for (k, name) in names.iter().enumerate() {
            let (bytes, ceil) = if k < 4 {
                (20.0, med[0])
            } else {
                (28.0, med[4])
            };
            println!(
                "  {name:<16} {:>8.3} ms  {:>6.1} GB/s  {:>5.1} % of ceiling",
                med[k] * 1e3,
                bytes * n / med[k] / 1e9,
                100.0 * ceil / med[k]
            );
        }
    }
}
