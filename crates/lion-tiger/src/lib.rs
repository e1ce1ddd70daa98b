//! # lion-tiger — Lion and Tiger, exactly as published, fused over all parameters
//!
//! (Crate docs: see the README section below; filled in with the formulas.)

mod config;
pub mod cpu;
mod error;
mod groups;
mod optimizer;
pub mod reference;
mod schedule;
#[cfg(feature = "cuda")]
mod cuda;
mod state;
mod step;

pub use config::{AdamWConfig, DecayMode, Guard, LionConfig, ParamKind, TigerConfig};
pub use error::{Error, Result};
pub use groups::{GroupRule, Match};
pub use optimizer::{Algorithm, Optimizer};
pub use schedule::PiecewiseLinear;
pub use state::{load_checkpoint, save_checkpoint};

#[cfg(test)]
mod tests;
