//! # nn — parameters, named parameter trees, layers and checkpoints for frugal
//!
//! A [`Param`] is a value tensor plus an optional gradient. Models expose their parameters as a
//! tree of stable dotted names (`blocks.3.gau.w_u`) through [`Module`]; optimizers, parameter
//! groups, checkpoints and gradient checks all key on those names.
//!
//! Backward passes hand each parameter gradient to a [`GradSink`]. The default sink,
//! [`Accumulate`], adds it into the parameter's own gradient (zeroed explicitly, so gradient
//! accumulation over micro-batches is free); an optimizer can be the sink instead and fold the
//! gradient into its state at once, so that no gradient buffer persists (gradient release).
//!
//! ```
//! use nn::{Param, ParamRole, Module, Accumulate, GradSink, Prefix};
//! use kernels::Tensor;
//!
//! struct Affine { w: Param }
//! impl Module for Affine {
//!     fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
//!         f(&p.join("w"), &self.w);
//!     }
//!     fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
//!         f(&p.join("w"), &mut self.w);
//!     }
//! }
//! let mut m = Affine { w: Param::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2])?, ParamRole::Gain) };
//! let g = Tensor::from_vec(vec![0.5f32, 0.5], &[2])?;
//! Accumulate.accept("w", &mut m.w, g)?;
//! assert_eq!(m.w.grad.as_ref().unwrap().to_vec::<f32>()?, vec![0.5, 0.5]);
//! assert_eq!(m.named_params()[0].0, "w");
//! # Ok::<(), nn::Error>(())
//! ```

pub mod checkpoint;
mod embedding;
mod error;
pub mod gradcheck;
pub mod init;
mod param;
mod sink;

pub use checkpoint::{Checkpoint, Metadata, load, save};
pub use embedding::{Embedding, EmbeddingCache};
pub use error::{Error, Result};
pub use gradcheck::{Checkable, GradCheckOptions, GradCheckReport, gradcheck};
pub use init::Init;
pub use param::{Module, Param, ParamRole, Prefix};
pub use sink::{Accumulate, GradSink, Scoped};

pub use kernels;
