//! # adam-eps-scaling — how the best learning rate moves with batch size for SGD, SignSGD and Adam-with-ε
//!
//! One greedy step on a local quadratic model gives the optimal learning rate η*(B) and the
//! best expected decrease ΔL*(B) for any coordinate-wise update `φ = f(g̃_B)`; this crate computes
//! them exactly (erf, closed forms, composite Gauss–Legendre quadrature) and with every published
//! approximation, labelled by source, and checks them against simulators and real gradients.
//! The learning rate is `η`; `ε` is always Adam's epsilon (McCandlish et al. and Li et al. write the
//! learning rate as ε).
//!
//! ## The law (§3 of the spec)
//! With `m_i = E φ_i`, `v_i = Var φ_i`:
//! `ΔL(η) = η·mᵀg − ½η²·T`, `T = Σ v_i H_ii + mᵀHm`, `η* = mᵀg/T`, `ΔL* = (mᵀg)²/(2T)`;
//! the loss rises on average once `η > 2η*`. See [`one_step`](fn@one_step), [`delta_l`], [`sweep`].
//!
//! * **SGD** (McCandlish et al., arXiv:1812.06162, 2018): `η*(B) = η_max/(1 + B_noise/B)`,
//!   `η_max = |g|²/gᵀHg`, `B_noise = tr(ΣH)/gᵀHg`, `B_simple = trΣ/|g|²` ([`SgdLaw`]); steps and
//!   examples obey `(S/S_min − 1)(E/E_min − 1) = 1` ([`fit_steps_examples`]).
//! * **SignSGD** (Adam, ε = 0, β = 0; Li et al., NeurIPS 2024): exactly `m_i = erf(a_i/√2)`,
//!   `a_i = g_i√B/σ_i`; `η* ∝ √B` at small B, `→ Σ|g|/sᵀHs`; a *surge* (η* rises then falls) needs
//!   off-diagonal curvature aligned with `s = sign g` ([`peak_batch`], [`surge_test`]).
//!   Approximations: Su 2024 mean field ([`SignMeanField`], peak iff `sᵀHs > 2 tr H`,
//!   `B_peak = (πκ²/2)·D/(O − D)`), Li et al.'s small-batch form ([`SurgeLaw`], `B_Li = πD/(2O')`),
//!   the mean-field 2025 variant (`πκ²/2 → B_simple`), McCandlish's power-law heuristic ([`PowerLaw`]).
//! * **Adam with ε** (Su, 18 Nov 2024): `SoftSign x/√(x²+ε²)`, `AdamDiv x/(|x|+ε)` (what Adam with
//!   β1 = β2 = 0 computes), `Clip clip(x/ε)` ([`Rule`]). Exact moments by quadrature
//!   ([`quadrature`]) or closed forms (Clip); approximations [`Moments::Su2024`],
//!   [`Moments::MeanField2025`] and the global law [`SoftSignMeanField`]. ε introduces the batch
//!   scale `B_ε ≈ πσ̄²/(2ε²)`: sign-like (`η* ∝ √B`) below it, SGD-like with rate `η/ε` above it
//!   when `ε ≫ |g|`; large ε removes the surge. **Correction of the 2024 large-ε limit:** as
//!   ε → ∞, `η*/ε → |g|²/(gᵀHg + tr(ΣH)/B)` — SGD with the *true* noise; Su 2024's approximate
//!   second moment gives the noise times π/2 instead ([`adam_eps::large_eps_limit_exact`] vs
//!   [`adam_eps::large_eps_limit_su2024`]; 35 % low in the spec's check instance).
//!
//! ## Assumptions
//! A1 local quadratic model; A2 i.i.d. sampling with replacement (`Cov g̃_B = Σ/B`); A3 (nonlinear
//! rules) `g̃_B` Gaussian; A4 (nonlinear rules) Σ diagonal — coordinates of φ independent; A5 one
//! greedy step at frozen statistics (B_noise grows as the loss falls); A6 β1 = β2 = 0; A7 `T > 0`.
//! SGD needs only A1, A2. The approximate forms add an S-curve for erf and a mean-field average.
//!
//! ## When each approximation is good
//! * The approximate forms give *shapes, not values*: the per-coordinate moment errors reach 0.11
//!   (SoftSign m, Su 2024) to 0.54 (AdamDiv q, Su 2024); η* errors up to ~40 % (spec R3).
//! * Su 2024 mean field predicts the surge location to ~7 % on identical coordinates (217 vs exact
//!   203), Li et al. to ~7 % (188), mean field 2025 poorly (138). Li et al.'s form is valid only
//!   while `B ≪ πσ_i²/(2g_i²)` for every coordinate; Su's peak criterion `uᵀHu > 2 tr H` is slightly
//!   conservative (exact SoftSign still surges mildly where it says "no peak").
//! * Su 2024's large-ε limit is wrong by the factor π/2 in the noise; mean field 2025's is exact.
//! * Diagonal H never surges for SignSGD; exact SoftSign can overshoot its B → ∞ limit by ~0.3 %
//!   (no mean-field form shows it).
//! * The one-step η* at the initial state tracks the multi-step best learning rate of SGD within
//!   a grid step; for sign-type rules the multi-step optimum follows the law evaluated nearer the
//!   target loss (statistics drift, A5) — see `tests/simulators.rs`.
//!
//! ## What to measure
//! Per coordinate: the mean gradient `g_i` and per-sample variance `σ_i²` (from per-example
//! gradients, or `σ̂² = b·var` of micro-batch means: [`estimators`]); the Hessian diagonal and a
//! quadratic form `vᵀHv` (exact, user-supplied, or a Hessian-vector product with Hutchinson's
//! diagonal, [`estimators::HvpCurvature`]). For the scalar laws: `|g|²`, `trΣ` (two-batch
//! estimator, [`estimators::GnsEstimator`] — report ratios of EMAs, not EMAs of ratios), `Σ|g_i|`,
//! `sᵀHs`, `uᵀg`, `uᵀHu` ([`estimators::summaries`]). [`model_probe`] does this on an `nn::Linear`
//! softmax regression during training.
//!
//! ```
//! use adam_eps_scaling::*;
//! // 16 identical coordinates, H = 0.5·I + 0.5·11ᵀ (spec R4): SignSGD surges near B ≈ 203.
//! let st = GradStats::uniform(16, 1e-3, 9e-4)?;
//! let h = DenseH::rank_one_plus_identity(&[1.0; 16], 0.5);
//! let (b_peak, _) = peak_batch(&Rule::Sign, &st, &h, &Moments::Exact, 1.0, 1e6)?.unwrap();
//! assert!((b_peak - 203.0).abs() < 1.0);
//! let soft = one_step(&Rule::SoftSign { eps: 1e-3 }, &st, &h, 64.0, &Moments::Exact)?;
//! assert!(soft.eta_star > 0.0);
//! # Ok::<(), LawError>(())
//! ```
//!
//! Command line: `cargo run -p adam-eps-scaling -- --help` ([`cli`]); the R8/R9 simulation:
//! `cargo run --release -p adam-eps-scaling --example r9_sweep`.

pub mod adam_eps;
pub mod cli;
pub mod diag_sweep;
pub mod dump;
pub mod error;
pub mod estimators;
pub mod fit;
pub mod model_probe;
pub mod moments;
pub mod one_step;
pub mod plot;
pub mod quadrature;
pub mod rules;
pub mod sgd;
pub mod signsgd;
pub mod simulator;
pub mod stats;
pub mod surge;
pub mod vecmath;

pub use adam_eps::SoftSignMeanField;
pub use error::{DumpError, LawError, Result};
pub use fit::{fit_sgd_law, fit_steps_examples, fit_surge_law};
pub use moments::{update_moments, update_moments_mv};
pub use one_step::{
    OneStep, delta_l, log_grid, one_step, one_step_reference, sweep, sweep_reference,
};
pub use rules::{Moments, Rule};
pub use sgd::{SgdLaw, b_noise, b_simple};
pub use signsgd::{MeanFieldVariant, PowerLaw, SignMeanField, SurgeLaw};
pub use stats::{Curvature, DenseH, DiagH, DiagPlusLowRank, GradStats};
pub use surge::{peak_batch, surge_test};
