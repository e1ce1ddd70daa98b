//! # adam-eps-scaling — how the best learning rate moves with batch size for SGD, SignSGD and Adam-with-ε
//!
//! See `crate docs` in [`docs`] for the formulas, the assumptions, when each approximation is
//! good and what to measure.

pub mod adam_eps;
pub mod cli;
pub mod dump;
pub mod plot;
pub mod docs;
pub mod estimators;
pub mod simulator;
pub mod error;
pub mod fit;
pub mod model_probe;
pub mod moments;
pub mod one_step;
pub mod quadrature;
pub mod rules;
pub mod sgd;
pub mod signsgd;
pub mod stats;
pub mod surge;

pub use adam_eps::SoftSignMeanField;
pub use error::{DumpError, LawError, Result};
pub use fit::{fit_sgd_law, fit_steps_examples, fit_surge_law};
pub use moments::{update_moments, update_moments_mv};
pub use one_step::{OneStep, delta_l, log_grid, one_step, sweep};
pub use rules::{Moments, Rule};
pub use sgd::{SgdLaw, b_noise, b_simple};
pub use signsgd::{MeanFieldVariant, PowerLaw, SignMeanField, SurgeLaw};
pub use stats::{Curvature, DenseH, DiagH, DiagPlusLowRank, GradStats};
pub use surge::{peak_batch, surge_test};
