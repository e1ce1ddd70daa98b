//! GAU layer forward + backward at base sizes (d = 768, e = 1536, s = 128, batch 1, f32, CPU)
//! for n = 128 … 2048, against the GEMM ceiling measured in the same run (spec/gau.md §4).
//!
//! Group `gau_layer`, parameter `n{n}`, functions (each throughput = its own §4 forward FLOPs
//! × 3 for forward + backward, recomputation not counted; criterion's elem/s is FLOP/s):
//! * `ceiling`: `kernels::ops::matmul` f32 at 2048×768×3200 (the layer's [U|V|Z] projection at
//!   n = 2048), re-measured next to every n so that each ratio is taken under the same load;
//! * `gau_fused`, `gau_materialized`: the GAU layer (SoftmaxPlus, RoPE) with the fused and the
//!   materialising attention core;
//! * `flash`: the FLASH layer (chunk 256, mixed chunk attention);
//! * `mha_ffn`: the MHA (12 heads) + FFN (4d) block — compare its time with 2 × `gau_fused`.
//!
//! Group `gau_core`: the attention core alone (`fused`, `materialized`), `2n²(e+s)` × 3 FLOPs.
//!
//! At the end the bench prints (and writes to `target/gau-bench-report.md`) one table per n:
//! medians of its own per-batch timings, ratios, the load average when each was measured, and
//! the peak heap memory of one forward + backward (counting global allocator).
//! `FRUGAL_BENCH_QUICK=1` runs n = 128 and 512 only.

mod support;

use criterion::{BenchmarkId, Criterion, Throughput};
use gau::baseline::MhaFfn;
use gau::{AttentionCore, CoreKind, Flash, FlashConfig, Gau, GauConfig, Mask, Normalization};
use kernels::ops::matmul::matmul;
use kernels::{DType, Tensor};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};
use support::*;

#[global_allocator]
static ALLOC: Counting = Counting;

/// The ceiling GEMM (m, k, n).
const CEILING: (usize, usize, usize) = (2048, D, 2 * E + S);

fn t(v: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

/// One layer under test: forward + backward on `x` with cotangent `dy`.
enum Layer {
    Gau(Box<Gau>),
    Flash(Box<Flash>),
    Mha(Box<MhaFfn>),
}

impl Layer {
    fn new(function: &str, n: usize) -> Layer {
        match function {
            "gau_fused" | "gau_materialized" => {
                let mut cfg = GauConfig::new(D, E, S);
                cfg.max_len = n;
                if function == "gau_materialized" {
                    cfg.core = CoreKind::Materialized;
                }
                Layer::Gau(Box::new(Gau::new(cfg, DType::F32, 1).unwrap()))
            }
            "flash" => {
                let mut cfg = FlashConfig::new(D, E, S);
                cfg.chunk = CHUNK;
                Layer::Flash(Box::new(Flash::new(cfg, DType::F32, 2).unwrap()))
            }
            "mha_ffn" => Layer::Mha(Box::new(
                MhaFfn::new(D, HEADS, 4 * D, DType::F32, 3).unwrap(),
            )),
            other => panic!("no layer {other}"),
        }
    }

    fn fwd_flops(&self, n: usize) -> u64 {
        match self {
            Layer::Gau(_) => gau_fwd_flops(n),
            Layer::Flash(_) => flash_fwd_flops(n),
            Layer::Mha(_) => mha_ffn_fwd_flops(n),
        }
    }

    fn step(&mut self, x: &Tensor, dy: &Tensor, mask: &Mask) -> Tensor {
        let sink = &mut Drop_;
        match self {
            Layer::Gau(l) => {
                let (o, c) = l.forward(x, mask).unwrap();
                black_box(o);
                l.backward(c, dy, sink).unwrap()
            }
            Layer::Flash(l) => {
                let (o, c) = l.forward(x, mask).unwrap();
                black_box(o);
                l.backward(c, dy, sink).unwrap()
            }
            Layer::Mha(l) => {
                let (o, c) = l.forward(x, mask).unwrap();
                black_box(o);
                l.backward(c, dy, sink).unwrap()
            }
        }
    }
}

const LAYERS: [&str; 4] = ["gau_fused", "gau_materialized", "flash", "mha_ffn"];

fn layer_benches(c: &mut Criterion, rec: &Recorder, peaks: &mut Vec<(String, usize, usize)>) {
    let (cm, ck, cn) = CEILING;
    let a = t(data(cm * ck, 1, 1.0), &[cm, ck]);
    let b = t(data(ck * cn, 2, 1.0), &[ck, cn]);
    let mut g = c.benchmark_group("gau_layer");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(if quick() { 2 } else { 4 }));
    for n in lengths() {
        let id = format!("n{n}");
        g.throughput(Throughput::Elements(2 * (cm * ck * cn) as u64));
        g.bench_function(BenchmarkId::new("ceiling", &id), |bch| {
            bch.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    black_box(matmul(&a, &b, false, false).unwrap());
                }
                let el = t0.elapsed();
                rec.push("ceiling", n, iters, el);
                el
            })
        });
        let x = t(data(n * D, 10 + n as u64, 2.0), &[1, n, D]);
        let dy = t(data(n * D, 20 + n as u64, 0.1), &[1, n, D]);
        let mask = Mask::none();
        for f in LAYERS {
            let mut layer = Layer::new(f, n);
            g.throughput(Throughput::Elements(fwd_bwd(layer.fwd_flops(n))));
            g.bench_function(BenchmarkId::new(f, &id), |bch| {
                bch.iter_custom(|iters| {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        black_box(layer.step(&x, &dy, &mask));
                    }
                    let el = t0.elapsed();
                    rec.push(f, n, iters, el);
                    el
                })
            });
            if rec.median(f, n).is_some() {
                let bytes = peak_bytes(|| {
                    black_box(layer.step(&x, &dy, &mask));
                });
                peaks.push((f.to_string(), n, bytes));
            }
        }
    }
    g.finish();
}

fn core_benches(c: &mut Criterion, rec: &Recorder) {
    let mut g = c.benchmark_group("gau_core");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(if quick() { 1 } else { 3 }));
    for n in lengths() {
        let id = format!("n{n}");
        let q = t(data(n * S, 30 + n as u64, 2.0), &[1, n, S]);
        let k = t(data(n * S, 40 + n as u64, 2.0), &[1, n, S]);
        let v = t(data(n * E, 50 + n as u64, 1.0), &[1, n, E]);
        let dc = t(data(n * E, 60 + n as u64, 0.1), &[1, n, E]);
        let mask = Mask::none();
        g.throughput(Throughput::Elements(fwd_bwd(core_fwd_flops(n))));
        for (f, kind) in [
            ("fused", CoreKind::default()),
            ("materialized", CoreKind::Materialized),
        ] {
            let core = AttentionCore {
                norm: Normalization::SoftmaxPlus { floor: 16 },
                scale: 1.0 / (S as f64).sqrt(),
                kind,
            };
            let name = format!("core_{f}");
            g.bench_function(BenchmarkId::new(f, &id), |bch| {
                bch.iter_custom(|iters| {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        let (o, cache) = core.forward(&q, &k, &v, &mask).unwrap();
                        black_box(o);
                        black_box(core.backward(&q, &k, &v, &mask, &cache, &dc).unwrap());
                    }
                    let el = t0.elapsed();
                    rec.push(&name, n, iters, el);
                    el
                })
            });
        }
    }
    g.finish();
}

fn ms(t: Option<f64>) -> String {
    t.map_or("-".into(), |t| format!("{:.1}", t * 1e3))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

fn report(rec: &Recorder, peaks: &[(String, usize, usize)]) -> String {
    let mib = |f: &str, n: usize| {
        peaks
            .iter()
            .find(|(g, m, _)| g == f && *m == n)
            .map_or("-".into(), |(_, _, b)| {
                format!("{:.1}", *b as f64 / (1 << 20) as f64)
            })
    };
    let (cm, ck, cn) = CEILING;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "GAU bench (f32, batch 1, d={D}, e={E}, s={S}, FLASH c={CHUNK}, MHA {HEADS} heads + FFN 4d); \
         times are medians of per-batch means (ms per forward+backward); load = 1-min load average \
         when measured; ceiling = matmul {cm}x{ck}x{cn}\n"
    );
    let _ = writeln!(
        s,
        "| n | ceiling GFLOP/s (load) | GAU fused ms (load) | GFLOP/s | % ceiling | GAU materialised ms | mat/fused | 2×GAU ms | MHA+FFN ms | 2×GAU / MHA+FFN | FLASH ms | FLASH / GAU | core fused ms | core mat ms |"
    );
    let _ = writeln!(
        s,
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for n in lengths() {
        let ceil = rec
            .median("ceiling", n)
            .map(|t| 2.0 * (cm * ck * cn) as f64 / t / 1e9);
        let gau = rec.median("gau_fused", n);
        let rate = gau.map(|t| fwd_bwd(gau_fwd_flops(n)) as f64 / t / 1e9);
        let pct = match (rate, ceil) {
            (Some(r), Some(c)) => format!("{:.0} %", 100.0 * r / c),
            _ => "-".into(),
        };
        let mat = rec.median("gau_materialized", n);
        let mha = rec.median("mha_ffn", n);
        let flash = rec.median("flash", n);
        let _ = writeln!(
            s,
            "| {n} | {} ({}) | {} ({}) | {} | {pct} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ceil.map_or("-".into(), |c| format!("{c:.1}")),
            rec.load("ceiling", n),
            ms(gau),
            rec.load("gau_fused", n),
            rate.map_or("-".into(), |r| format!("{r:.1}")),
            ms(mat),
            ratio(mat, gau),
            ms(gau.map(|t| 2.0 * t)),
            ms(mha),
            ratio(gau.map(|t| 2.0 * t), mha),
            ms(flash),
            ratio(flash, gau),
            ms(rec.median("core_fused", n)),
            ms(rec.median("core_materialized", n)),
        );
    }
    let _ = writeln!(
        s,
        "\nPeak heap MiB allocated during one forward + backward (beyond inputs and parameters):\n"
    );
    let _ = writeln!(
        s,
        "| n | GAU fused | GAU materialised | FLASH | MHA+FFN |\n| ---: | ---: | ---: | ---: | ---: |"
    );
    for n in lengths() {
        let _ = writeln!(
            s,
            "| {n} | {} | {} | {} | {} |",
            mib("gau_fused", n),
            mib("gau_materialized", n),
            mib("flash", n),
            mib("mha_ffn", n)
        );
    }
    let cross = lengths().into_iter().find(|&n| {
        matches!((rec.median("flash", n), rec.median("gau_fused", n)), (Some(f), Some(g)) if f < g)
    });
    let _ = writeln!(
        s,
        "\nFLASH crossover (first n where FLASH fwd+bwd is faster than GAU's): {}",
        cross.map_or("none up to the largest n measured".into(), |n| format!(
            "n = {n}"
        ))
    );
    s
}

fn main() {
    let rec = Recorder::default();
    let mut peaks = Vec::new();
    let mut c = Criterion::default().configure_from_args();
    layer_benches(&mut c, &rec, &mut peaks);
    core_benches(&mut c, &rec);
    c.final_summary();
    if lengths()
        .iter()
        .all(|&n| rec.median("gau_fused", n).is_none())
    {
        return; // filtered out: nothing to report
    }
    let text = report(&rec, &peaks);
    eprintln!("\n{text}");
    let path = report_path("gau-bench-report.md");
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("could not write {}: {e}", path.display());
    }
}
