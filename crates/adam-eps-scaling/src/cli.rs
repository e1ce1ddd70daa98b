//! The command-line tool (`cargo run -p adam-eps-scaling -- --help`).

use crate::dump::{self, Dump};
use crate::error::{DumpError, LawError};
use crate::plot::{PlotError, Series, Style, plot_log_log};
use crate::simulator::{LinearRegression, MultiStepSweep, Optimizer, Protocol};
use crate::stats::{DiagH, GradStats};
use crate::{Moments, Rule, log_grid, one_step};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Optimal learning rate vs batch size for SGD, SignSGD and Adam with ε (one-step theory).
///
/// Examples:
///   adam-eps-scaling table --uniform 16,1e-3,9e-4 --eps 0,1e-3,1e-2 --batches 1,16,256,4096
///   adam-eps-scaling table --stats grads.safetensors --rule adam-div --moments all
///   adam-eps-scaling plot --uniform 8,1e-3,9e-4 --eps 0,1e-3,1e-2 --out eta.png
///   adam-eps-scaling simulate --plot docs/adam-eps-scaling.png
#[derive(Debug, Parser)]
#[command(name = "adam-eps-scaling", version, verbatim_doc_comment)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print η*(B) (and ΔL*(B)) for every ε and B.
    Table(TableArgs),
    /// Write a log–log PNG of η*(B) for every ε (exact curves, approximations dashed).
    Plot(PlotArgs),
    /// Linear-regression learning-rate × batch sweep (steps to 10 % of the initial excess loss),
    /// printed next to the exact one-step theory; optionally plotted.
    Simulate(SimArgs),
}

/// Where the statistics come from.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// JSON (`{"g":[..],"sigma2":[..],"h_diag":[..]}` or `{"per_example":[[..]..]}`) or safetensors
    /// (`g`, `sigma2`, `h_diag` 1-D or `per_example` 2-D, F32/F64).
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Per-sample gradient means, comma separated.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub g: Vec<f64>,
    /// Per-sample gradient variances, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub sigma2: Vec<f64>,
    /// Diagonal of H (default: identity).
    #[arg(long, value_delimiter = ',')]
    pub h_diag: Vec<f64>,
    /// N identical coordinates: `N,g,sigma2`.
    #[arg(long, value_delimiter = ',')]
    pub uniform: Vec<f64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RuleKind {
    SoftSign,
    AdamDiv,
    Clip,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum MomentsKind {
    Exact,
    Su2024,
    Mf2025,
    All,
}

#[derive(Debug, Args)]
pub struct TableArgs {
    #[command(flatten)]
    pub stats: StatsArgs,
    /// Adam ε values (0 = SignSGD).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.0, 1e-8, 1e-5, 1e-3])]
    pub eps: Vec<f64>,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0])]
    pub batches: Vec<f64>,
    #[arg(long, value_enum, default_value = "soft-sign")]
    pub rule: RuleKind,
    #[arg(long, value_enum, default_value = "exact")]
    pub moments: MomentsKind,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// Output PNG.
    #[arg(long, default_value = "adam-eps-scaling.png")]
    pub out: PathBuf,
    /// Smallest and largest batch size, number of log-spaced points.
    #[arg(long, default_value_t = 1.0)]
    pub b_min: f64,
    #[arg(long, default_value_t = 1e6)]
    pub b_max: f64,
    #[arg(long, default_value_t = 60)]
    pub points: usize,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Dimension and label noise of the regression (λ_k = 1/k, w* ~ N(0, I) from --seed, w0 = 0).
    #[arg(long, default_value_t = 32)]
    pub d: usize,
    #[arg(long, default_value_t = 0.5)]
    pub noise: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 8)]
    pub seeds: usize,
    /// Number of log-spaced learning rates between --lr-min and --lr-max.
    #[arg(long, default_value_t = 28)]
    pub lrs: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr_min: f64,
    #[arg(long, default_value_t = 10.0)]
    pub lr_max: f64,
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 4, 16, 64, 256])]
    pub batches: Vec<usize>,
    /// SoftSign ε of the third optimizer.
    #[arg(long, default_value_t = 0.03)]
    pub eps: f64,
    /// Target: fraction of the initial excess loss.
    #[arg(long, default_value_t = 0.1)]
    pub fraction: f64,
    #[arg(long, default_value_t = 4000)]
    pub max_steps: usize,
    /// Write a plot of the theory curves with the simulated optima.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Everything the CLI can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Law(#[from] LawError),
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("{0}")]
    Usage(String),
}

impl StatsArgs {
    /// Loads or assembles the statistics.
    pub fn load(&self) -> Result<Dump, CliError> {
        if let Some(p) = &self.stats {
            return Ok(dump::read(p)?);
        }
        let (stats, n) = if !self.uniform.is_empty() {
            let [n, g, s2] = self.uniform[..] else {
                return Err(CliError::Usage("--uniform takes N,g,sigma2".into()));
            };
            if !(n >= 1.0 && n.fract() == 0.0) {
                return Err(CliError::Usage(format!(
                    "--uniform N must be a positive integer, got {n}"
                )));
            }
            (GradStats::uniform(n as usize, g, s2)?, n as usize)
        } else if !self.g.is_empty() {
            let s = GradStats::new(self.g.clone(), self.sigma2.clone())?;
            let n = s.len();
            (s, n)
        } else {
            return Err(CliError::Usage(
                "give --stats FILE, --g/--sigma2 or --uniform".into(),
            ));
        };
        let h = if self.h_diag.is_empty() {
            DiagH::scaled_identity(n, 1.0)
        } else {
            DiagH::new(self.h_diag.clone())?
        };
        Ok(Dump { stats, h })
    }
}

fn rule_for(kind: RuleKind, eps: f64) -> Rule {
    match (kind, eps) {
        (_, 0.0) => Rule::Sign,
        (RuleKind::SoftSign, eps) => Rule::SoftSign { eps },
        (RuleKind::AdamDiv, eps) => Rule::AdamDiv { eps },
        (RuleKind::Clip, eps) => Rule::Clip { eps },
    }
}

fn moments_list(k: MomentsKind) -> Vec<Moments> {
    match k {
        MomentsKind::Exact => vec![Moments::Exact],
        MomentsKind::Su2024 => vec![Moments::Su2024],
        MomentsKind::Mf2025 => vec![Moments::MeanField2025],
        MomentsKind::All => vec![Moments::Exact, Moments::Su2024, Moments::MeanField2025],
    }
}

fn bar(n: u64) -> ProgressBar {
    let pb = ProgressBar::new(n);
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// `table`: η*(B) rows for SGD and each (ε, moments).
pub fn run_table(a: &TableArgs) -> Result<String, CliError> {
    let Dump { stats, h } = a.stats.load()?;
    let mut out = format!("{:<34}", "rule / moments  \\  B");
    for b in &a.batches {
        out += &format!(" {b:>11.4e}");
    }
    out += "\n";
    let pb = bar(((a.eps.len() * moments_list(a.moments).len() + 1) * a.batches.len()) as u64);
    let mut row = |rule: Rule, how: Moments| -> Result<(), CliError> {
        out += &format!("{:<34}", format!("{} [{}]", rule.label(), how.label()));
        for &b in &a.batches {
            let r = one_step(&rule, &stats, &h, b, &how)?;
            out += &format!(" {:>11.4e}", r.eta_star);
            pb.inc(1);
        }
        out += "\n";
        Ok(())
    };
    row(Rule::Sgd, Moments::Exact)?;
    for &eps in &a.eps {
        for how in moments_list(a.moments) {
            row(rule_for(a.rule, eps), how)?;
        }
    }
    pb.finish_and_clear();
    Ok(out)
}

/// `plot`: exact curves (solid), approximations (dashed).
pub fn run_plot(a: &PlotArgs) -> Result<String, CliError> {
    let Dump { stats, h } = a.table.stats.load()?;
    let bs = log_grid(a.b_min, a.b_max, a.points.max(2));
    let mut series = Vec::new();
    let list = moments_list(a.table.moments);
    let pb = bar(((a.table.eps.len() * list.len() + 1) * bs.len()) as u64);
    let curve = |rule: Rule, how: Moments| -> Result<Vec<(f64, f64)>, CliError> {
        bs.iter()
            .map(|&b| {
                pb.inc(1);
                Ok((b, one_step(&rule, &stats, &h, b, &how)?.eta_star))
            })
            .collect()
    };
    series.push(Series {
        label: "SGD (exact)".into(),
        points: curve(Rule::Sgd, Moments::Exact)?,
        style: Style::Line,
        color: 0,
    });
    for (k, &eps) in a.table.eps.iter().enumerate() {
        let rule = rule_for(a.table.rule, eps);
        for how in &list {
            let style = if *how == Moments::Exact {
                Style::Line
            } else {
                Style::Dashed
            };
            series.push(Series {
                label: format!("{} [{}]", rule.label(), how.label()),
                points: curve(rule, *how)?,
                style,
                color: k + 1,
            });
        }
    }
    pb.finish_and_clear();
    plot_log_log(
        &a.out,
        "one-step optimal learning rate η*(B)",
        "batch size B",
        "η*",
        &series,
    )?;
    Ok(format!("wrote {}\n", a.out.display()))
}

/// `simulate`: the R9 protocol for SGD, SignSGD and SoftSign(ε), with the exact one-step theory at w0.
pub fn run_simulate(a: &SimArgs) -> Result<String, CliError> {
    let model = LinearRegression::new(a.d, a.noise, a.seed)?;
    let w0 = vec![0.0; a.d];
    let st = model.grad_stats(&w0)?;
    // The target state: the initial error scaled down to the target loss.
    let wt: Vec<f64> = w0
        .iter()
        .zip(&model.w_star)
        .map(|(w, s)| s + a.fraction.sqrt() * (w - s))
        .collect();
    let st_t = model.grad_stats(&wt)?;
    let hh = model.hessian();
    let lrs = log_grid(a.lr_min, a.lr_max, a.lrs);
    let opts = [
        (Optimizer::Sgd, Rule::Sgd),
        (Optimizer::Sign, Rule::Sign),
        (Optimizer::SoftSign(a.eps), Rule::SoftSign { eps: a.eps }),
    ];
    let pb = bar((opts.len() * a.batches.len() * lrs.len()) as u64);
    let (bmin, bmax) = (
        *a.batches.iter().min().unwrap_or(&1) as f64,
        *a.batches.iter().max().unwrap_or(&1) as f64,
    );
    let bs = log_grid(bmin, bmax, 50);
    let mut out = String::from("optimizer          B      best lr    steps   theory η*(B) at w0\n");
    let mut series = Vec::new();
    for (k, (opt, rule)) in opts.iter().enumerate() {
        let sweep = MultiStepSweep {
            optimizer: *opt,
            lrs: lrs.clone(),
            batches: a.batches.clone(),
            seeds: a.seeds,
            protocol: Protocol::StepsToTarget {
                fraction: a.fraction,
                max_steps: a.max_steps,
            },
        };
        let pts = sweep.run(&model, &w0, &|| pb.inc(1))?;
        let mut sim = Vec::new();
        for p in &pts {
            let th = one_step(rule, &st, &hh, p.batch as f64, &Moments::Exact)?.eta_star;
            out += &format!(
                "{:<16} {:>5} {:>10} {:>8} {:>12.4}\n",
                rule.label(),
                p.batch,
                p.best_lr.map_or("-".into(), |l| format!("{l:.4}")),
                p.steps.map_or("-".into(), |s| s.to_string()),
                th
            );
            if let Some(l) = p.best_lr {
                sim.push((p.batch as f64, l));
            }
        }
        let theory = bs
            .iter()
            .map(|&b| Ok((b, one_step(rule, &st, &hh, b, &Moments::Exact)?.eta_star)))
            .collect::<Result<Vec<_>, LawError>>()?;
        let theory_t = bs
            .iter()
            .map(|&b| Ok((b, one_step(rule, &st_t, &hh, b, &Moments::Exact)?.eta_star)))
            .collect::<Result<Vec<_>, LawError>>()?;
        series.push(Series {
            label: format!("{} one-step η* at start", rule.label()),
            points: theory,
            style: Style::Line,
            color: k,
        });
        series.push(Series {
            label: format!("{} one-step η* at target loss", rule.label()),
            points: theory_t,
            style: Style::Dashed,
            color: k,
        });
        series.push(Series {
            label: format!("{} simulated best lr", rule.label()),
            points: sim,
            style: Style::Points,
            color: k,
        });
    }
    pb.finish_and_clear();
    if let Some(p) = &a.plot {
        plot_log_log(
            p,
            &format!(
                "linear regression d={}, ν={}: best lr (steps to {}% loss) vs one-step η*",
                a.d,
                a.noise,
                a.fraction * 100.0
            ),
            "batch size B",
            "learning rate",
            &series,
        )?;
        out += &format!("wrote {}\n", p.display());
    }
    Ok(out)
}

/// Dispatches a parsed command.
pub fn run(cli: &Cli) -> Result<String, CliError> {
    match &cli.command {
        Command::Table(a) => run_table(a),
        Command::Plot(a) => run_plot(a),
        Command::Simulate(a) => run_simulate(a),
    }
}
