//! Simulators (spec §8.5): a one-step quadratic oracle, noisy linear regression with exact
//! statistics, and a multi-step learning-rate × batch-size sweep.

pub mod linreg;
pub mod oracle;
pub mod sweep;

pub use linreg::LinearRegression;
pub use oracle::{Noise, OracleResult, QuadraticOracle};
pub use sweep::{MultiStepSweep, Optimizer, Protocol, SweepPoint};
