//! Spec §10 R8/R9 on the linear regression (d = 32, λ_k = 1/k, ν = 0.5): measured one-step η* vs
//! the exact law, and the full multi-step sweep (8 seeds × 28 log-spaced lrs, target 10 %).
//! `cargo run --release -p adam-eps-scaling --example r9_sweep`

use adam_eps_scaling::simulator::*;
use adam_eps_scaling::*;

fn main() -> Result<()> {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let model = LinearRegression::new(32, 0.5, seed)?;
    let w0 = vec![0.0; 32];
    let st = model.grad_stats(&w0)?;
    let h = model.hessian();
    let batches = [1usize, 4, 16, 64, 256];
    let lrs = log_grid(1e-3, 10.0, 28);
    let pool = model.per_example(&w0, 200_000, 7);
    let oracle = QuadraticOracle {
        g: st.g.clone(),
        sigma: vec![],
        h: h.clone(),
        noise: Noise::Pool(pool),
    };
    for (name, rule, opt) in [
        ("SGD", Rule::Sgd, Optimizer::Sgd),
        ("SignSGD", Rule::Sign, Optimizer::Sign),
        (
            "SoftSign(0.05)",
            Rule::SoftSign { eps: 0.05 },
            Optimizer::SoftSign(0.05),
        ),
        (
            "SoftSign(0.03)",
            Rule::SoftSign { eps: 0.03 },
            Optimizer::SoftSign(0.03),
        ),
    ] {
        let mut line = format!("R8 {name:15}");
        for &b in &batches {
            let meas = oracle.run(&rule, b as f64, 100_000, 1, &[])?.eta_ratio;
            let th = one_step(&rule, &st, &h, b as f64, &Moments::Exact)?.eta_star;
            line += &format!(" {:.3}", meas / th);
        }
        println!("{line}");
        let t = std::time::Instant::now();
        let sweep = MultiStepSweep {
            optimizer: opt,
            lrs: lrs.clone(),
            batches: batches.to_vec(),
            seeds: 8,
            protocol: Protocol::StepsToTarget {
                fraction: 0.1,
                max_steps: 4000,
            },
        };
        let pts = sweep.run(&model, &w0, &|| {})?;
        let mut line = format!("R9 {name:15}");
        for p in &pts {
            let th = one_step(&rule, &st, &h, p.batch as f64, &Moments::Exact)?.eta_star;
            line += &format!(
                " {:.3}(S={:?},th {:.3})",
                p.best_lr.unwrap_or(f64::NAN),
                p.steps,
                th
            );
        }
        println!("{line}  [{:.2}s]", t.elapsed().as_secs_f64());
    }
    Ok(())
}
