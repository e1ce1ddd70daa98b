//! Safetensors checkpoints of named tensors.
//!
//! A checkpoint is one `.safetensors` file: named f32 / f64 tensors (bit-exact, little-endian,
//! the dtype kept) plus a string→string metadata map. Model parameters are stored under their
//! dotted names ([`Module::visit`]); other owners add their own tensors under a prefix of their
//! own, for example an optimizer's momentum under `optim.<param name>.m` and its counters in the
//! metadata, so one file resumes a run exactly.
//!
//! Writes go to a temporary file in the target's folder, which is synced and then renamed over
//! the target: a reader never sees a half-written checkpoint, and a failed save leaves no
//! temporary file behind. Reading a corrupted or truncated file returns [`Error::Checkpoint`],
//! never a panic.
//!
//! Two levels:
//! - [`save`] / [`load`]: a whole model. `load` checks every name and returns
//!   [`Error::CheckpointMismatch`] listing every missing, extra, mis-shaped and mis-typed tensor;
//!   the model is changed only when everything fits.
//! - [`save_tensors`] / [`Checkpoint::read`]: any named tensors plus metadata, for state that
//!   is not a model (optimizer moments). [`module_tensors`] lists a model's tensors so a caller
//!   can append its own before saving, and [`Checkpoint::restore_module`] restores a model while
//!   leaving tensors under named prefixes (`optim.`) to their owner.

use crate::{Error, Module, Prefix, Result};
use kernels::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// String metadata stored in the file's `__metadata__` header.
pub type Metadata = BTreeMap<String, String>;

/// The model's parameters as named tensors (full dotted names under `prefix`, in visit order).
pub fn module_tensors<'a>(model: &'a dyn Module, prefix: &str) -> Vec<(String, &'a Tensor)> {
    let mut out = Vec::new();
    model.visit(&Prefix::root().child(prefix), &mut |n, p| {
        out.push((n.to_string(), &p.value))
    });
    out
}

/// Writes a model's parameters and `metadata` to `path` (temporary file + rename).
pub fn save(path: impl AsRef<Path>, model: &dyn Module, metadata: &Metadata) -> Result<()> {
    save_tensors(path, &module_tensors(model, ""), metadata)
}

/// Loads every parameter of `model` from `path` and returns the file's metadata.
///
/// Every parameter must be present with its exact shape and dtype, and the file must hold
/// nothing else; otherwise [`Error::CheckpointMismatch`] lists every problem and the model is
/// left unchanged. Values are copied bit-exactly (onto the parameter's device).
pub fn load(path: impl AsRef<Path>, model: &mut dyn Module) -> Result<Metadata> {
    let ckpt = Checkpoint::read(path)?;
    ckpt.restore_module(model, "", &[])?;
    Ok(ckpt.metadata)
}

/// Writes named tensors and `metadata` to `path` as safetensors.
///
/// Device tensors are copied to the host; f32 and f64 keep their dtype. Names must be unique,
/// non-empty and not `__metadata__` ([`Error::Checkpoint`] otherwise, and nothing is written).
pub fn save_tensors<T: Borrow<Tensor>>(
    path: impl AsRef<Path>,
    tensors: &[(String, T)],
    metadata: &Metadata,
) -> Result<()> {
    let path = path.as_ref();
    let fail = |reason: String| Error::Checkpoint {
        path: path.display().to_string(),
        reason,
    };
    let mut seen = HashSet::new();
    let mut views = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if name.is_empty() || name == "__metadata__" {
            return Err(fail(format!("invalid tensor name {name:?}")));
        }
        if !seen.insert(name.as_str()) {
            return Err(fail(format!("tensor name {name:?} appears twice")));
        }
        views.push((name.as_str(), HostView::new(t.borrow())?));
    }
    let meta: HashMap<String, String> = metadata.clone().into_iter().collect();
    let file_name = path
        .file_name()
        .ok_or_else(|| fail("the path names no file".into()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_then_rename(&tmp, path, views, meta);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    views: Vec<(&str, HostView)>,
    meta: HashMap<String, String>,
) -> Result<()> {
    let io = |context: String| move |source| Error::Io { context, source };
    safetensors::serialize_to_file(views, Some(meta), tmp).map_err(|e| Error::Checkpoint {
        path: path.display().to_string(),
        reason: format!("writing {}: {e}", tmp.display()),
    })?;
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("syncing {}", tmp.display())))?;
    std::fs::rename(tmp, path).map_err(io(format!(
        "renaming {} to {}",
        tmp.display(),
        path.display()
    )))?;
    // Make the rename itself durable (best effort: not every platform can open a folder).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A host copy of one tensor's bytes in safetensors' little-endian layout.
struct HostView {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl HostView {
    fn new(t: &Tensor) -> Result<HostView> {
        let bytes = match t.dtype() {
            DType::F32 => {
                let v: Cow<[f32]> = match t.device() {
                    Device::Cpu => Cow::Borrowed(t.as_slice::<f32>()?),
                    _ => Cow::Owned(t.to_vec::<f32>()?),
                };
                v.iter().flat_map(|x| x.to_le_bytes()).collect()
            }
            DType::F64 => t
                .as_slice::<f64>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        };
        Ok(HostView {
            dtype: match t.dtype() {
                DType::F32 => Dtype::F32,
                DType::F64 => Dtype::F64,
            },
            shape: t.shape().to_vec(),
            bytes,
        })
    }
}

impl safetensors::View for HostView {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// A checkpoint read into memory: host tensors by name, and the metadata.
pub struct Checkpoint {
    path: String,
    tensors: BTreeMap<String, Tensor>,
    /// The file's string metadata.
    pub metadata: Metadata,
}

impl Checkpoint {
    /// Reads and validates a safetensors file. A missing or unreadable file is [`Error::Io`];
    /// a corrupted, truncated or non-f32/f64 file is [`Error::Checkpoint`].
    pub fn read(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            context: format!("reading checkpoint {shown}"),
            source,
        })?;
        let fail = |reason: String| Error::Checkpoint {
            path: shown.clone(),
            reason,
        };
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| fail(format!("not a valid safetensors file: {e}")))?;
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| fail(format!("not a valid safetensors file: {e}")))?;
        let metadata: Metadata = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            let t = to_tensor(&view).map_err(|r| fail(format!("tensor {name:?}: {r}")))?;
            tensors.insert(name.to_string(), t);
        }
        Ok(Checkpoint {
            path: shown,
            tensors,
            metadata,
        })
    }

    /// The tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The tensor `name`, if the file has it.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// The tensor `name`, or [`Error::Checkpoint`] naming it.
    pub fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.tensors.get(name).ok_or_else(|| Error::Checkpoint {
            path: self.path.clone(),
            reason: format!("no tensor named {name:?}"),
        })
    }

    /// Removes and returns the tensor `name`.
    pub fn take(&mut self, name: &str) -> Option<Tensor> {
        self.tensors.remove(name)
    }

    /// All tensors, sorted by name.
    pub fn into_tensors(self) -> Vec<(String, Tensor)> {
        self.tensors.into_iter().collect()
    }

    /// Copies the tensors named `prefix.<param name>` (or `<param name>` for an empty prefix)
    /// into `model`'s parameters, bit-exactly, onto each parameter's device.
    ///
    /// Checked first, for every parameter: present, same shape, same dtype. Tensors under
    /// `prefix` that the model does not own are extras, except those whose names start with one
    /// of `skip` (tensors owned by someone else, such as `"optim."`). Any problem returns
    /// [`Error::CheckpointMismatch`] listing all of them, and the model is left unchanged.
    pub fn restore_module(
        &self,
        model: &mut dyn Module,
        prefix: &str,
        skip: &[&str],
    ) -> Result<()> {
        let root = Prefix::root().child(prefix);
        let mut problems = Vec::new();
        let mut owned = HashSet::new();
        model.visit(&root, &mut |name, p| {
            owned.insert(name.to_string());
            match self.tensors.get(name) {
                None => problems.push(format!(
                    "missing: {name} ({:?} {})",
                    p.value.shape(),
                    p.value.dtype()
                )),
                Some(t) if t.shape() != p.value.shape() => problems.push(format!(
                    "shape: {name}: model {:?}, file {:?}",
                    p.value.shape(),
                    t.shape()
                )),
                Some(t) if t.dtype() != p.value.dtype() => problems.push(format!(
                    "dtype: {name}: model {}, file {}",
                    p.value.dtype(),
                    t.dtype()
                )),
                Some(_) => {}
            }
        });
        let scope = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}.")
        };
        for (name, t) in &self.tensors {
            if name.starts_with(&scope)
                && !owned.contains(name)
                && !skip.iter().any(|s| name.starts_with(s))
            {
                problems.push(format!("extra: {name} ({:?} {})", t.shape(), t.dtype()));
            }
        }
        if !problems.is_empty() {
            return Err(Error::CheckpointMismatch {
                path: self.path.clone(),
                problems,
            });
        }
        let mut result = Ok(());
        model.visit_mut(&root, &mut |name, p| {
            if result.is_ok() {
                let t = &self.tensors[name];
                match t.to_device(&p.value.device()) {
                    Ok(v) => p.value = v,
                    Err(e) => result = Err(e.into()),
                }
            }
        });
        result
    }
}

/// Host tensor from a safetensors view (f32 and f64 only).
fn to_tensor(view: &TensorView<'_>) -> std::result::Result<Tensor, String> {
    let data = view.data();
    let t = match view.dtype() {
        Dtype::F32 => Tensor::from_vec(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect::<Vec<f32>>(),
            view.shape(),
        ),
        Dtype::F64 => Tensor::from_vec(
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect::<Vec<f64>>(),
            view.shape(),
        ),
        other => {
            return Err(format!(
                "dtype {other:?} is not supported (f32 or f64 only)"
            ));
        }
    };
    t.map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
