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
//! ## What is here
//!
//! | item | formula | parameter names |
//! | --- | --- | --- |
//! | [`Linear`] | `y = x·W + b`, `W: (in, out)`; `dx = dy·Wᵀ`, `dW = xᵀ·dy`, `db = Σ_rows dy` | `w`, `b` |
//! | [`Embedding`] | `y[i] = table[ids[i]]`; `dtable[v] = Σ_{i: ids[i]=v} dy[i]` | `table` |
//! | [`LayerNorm`] | `y = (x−μ)/√(σ²+ε) ⊙ gain + bias` | `gain`, `bias` |
//! | [`RmsNorm`] | `y = x/√(mean(x²)+ε) ⊙ gain` (gain optional) | `gain` |
//! | [`ScaleNorm`] | `y = g·x / max(‖x‖, ε)` | `gain` |
//! | [`Init`] | seeded normal, uniform, Xavier/Glorot, truncated normal, constants | |
//! | [`checkpoint`] | safetensors files of named tensors + metadata, atomic writes | |
//! | [`gradcheck`](mod@gradcheck) | `L = ⟨f(x), w⟩` by f64 central differences vs the backward | |
//!
//! Each layer's `forward(&self, x)` returns `(y, cache)`; `backward(&mut self, cache, dy, sink)`
//! returns `dx` and then hands each parameter gradient to the sink under its local name
//! (`"w"`); a model wraps the sink in [`Scoped`] with the layer's [`Prefix`] so the sink sees
//! full dotted names. Layers are built on the CPU in f32 or f64 from a `u64` seed; the same
//! seed gives the same f64 values and the f32 layer holds them rounded. Every layer implements
//! [`Checkable`], and its tests check the input and every parameter gradient in f64.
//!
//! ```
//! use nn::{Accumulate, GradCheckOptions, Linear, Module, gradcheck};
//! use kernels::{DType, Tensor};
//!
//! // y = x·W + b for x [2, 3], W [3, 4] drawn from seed 7.
//! let mut lin = Linear::new(3, 4, true, DType::F32, 7)?;
//! let x = Tensor::from_vec(vec![1.0f32, 0.0, -1.0, 0.5, 2.0, 0.0], &[2, 3])?;
//! let (y, cache) = lin.forward(&x)?;
//! assert_eq!(y.shape(), &[2, 4]);
//! let dy = Tensor::from_vec(vec![1.0f32; 8], &[2, 4])?;
//! let dx = lin.backward(cache, &dy, &mut Accumulate)?;
//! assert_eq!(dx.shape(), &[2, 3]);
//! // db = Σ_rows dy = 2 for every output.
//! assert_eq!(lin.b.as_ref().unwrap().grad.as_ref().unwrap().to_vec::<f32>()?, vec![2.0; 4]);
//!
//! // The same layer in f64, checked against central differences for x, w and b.
//! let mut lin64 = Linear::new(3, 4, true, DType::F64, 7)?;
//! let report = gradcheck(&mut lin64, &x.to_dtype(DType::F64)?, &GradCheckOptions::default())?;
//! assert!(report.worst() < 1e-6);
//! assert_eq!(lin64.named_params().len(), 2);
//! # Ok::<(), nn::Error>(())
//! ```
//!
//! The core traits, by hand:
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
mod layer_norm;
mod linear;
#[cfg(test)]
mod norm_tests;
mod param;
mod rms_norm;
mod scale_norm;
mod sink;

pub use checkpoint::{Checkpoint, Metadata, load, save};
pub use embedding::{Embedding, EmbeddingCache};
pub use error::{Error, Result};
pub use gradcheck::{Checkable, GradCheckOptions, GradCheckReport, gradcheck};
pub use init::Init;
pub use layer_norm::{LayerNorm, LayerNormCache};
pub use linear::{Linear, LinearCache};
pub use param::{Module, Param, ParamRole, Prefix};
pub use rms_norm::{RmsNorm, RmsNormCache};
pub use scale_norm::{ScaleNorm, ScaleNormCache};
pub use sink::{Accumulate, GradSink, Scoped};

pub use kernels;
