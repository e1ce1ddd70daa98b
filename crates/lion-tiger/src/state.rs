//! Optimizer state in the model's safetensors checkpoint (through `nn::checkpoint`): the model's
//! parameters under their names, each tensor's momentum under `optim.<name>.m` (and `.v`,
//! `.acc`, `.touched` where present), and the counters (micro-step, updates, guard events,
//! the group's decay flag) in the metadata. Resuming continues bit-exactly. Loading checks
//! everything first and changes nothing on error. Tiger's cached Σθ² is not stored: a load
//! drops it, and the next step recomputes it from the loaded θ (the same value the cache would
//! hold, bit for bit, so resuming stays exact). Files that carry it as a fifth counter (older
//! versions) load; the field is ignored.

use crate::optimizer::{Moment, Optimizer, Slot};
use crate::{Error, Result};
use half::bf16;
use kernels::{DType, Tensor};
use nn::Module;
use nn::checkpoint::{Checkpoint, Metadata, module_tensors, save_tensors};
use std::path::Path;

const ALGO: &str = "optim.algorithm";
const ACCUM: &str = "optim.grad_accum_steps";

fn counters(s: &Slot) -> String {
    format!(
        "{},{},{},{}",
        s.t, s.updates, s.guard_events, s.decayed as u8
    )
}

fn moment_tensor(s: &Slot) -> Result<Tensor> {
    Ok(match &s.m {
        Moment::Full(t) => t.try_clone()?,
        // bf16 → f32 is exact, and back again.
        Moment::Bf16(v) => Tensor::from_vec(v.iter().map(|x| x.to_f32()).collect(), &s.shape)?,
    })
}

/// Writes `model`'s parameters and `opt`'s full state to one safetensors file (temporary file +
/// rename: never half-written).
pub fn save_checkpoint(path: impl AsRef<Path>, model: &dyn Module, opt: &Optimizer) -> Result<()> {
    let mut owned: Vec<(String, Tensor)> = Vec::new();
    let mut meta = Metadata::new();
    meta.insert(ALGO.into(), opt.algo.name().into());
    meta.insert(ACCUM.into(), opt.algo.grad_accum_steps().to_string());
    meta.insert("optim.config".into(), format!("{:?}", opt.algo));
    for s in &opt.slots {
        let p = format!("optim.{}", s.name);
        owned.push((format!("{p}.m"), moment_tensor(s)?));
        if let Some(v) = &s.v {
            owned.push((format!("{p}.v"), v.try_clone()?));
        }
        if let Some(a) = &s.acc {
            owned.push((format!("{p}.acc"), a.try_clone()?));
        }
        if !s.touched.is_empty() {
            let t: Vec<f32> = s.touched.iter().map(|&b| b as u8 as f32).collect();
            owned.push((
                format!("{p}.touched"),
                Tensor::from_vec(t, &[s.touched.len()])?,
            ));
        }
        meta.insert(format!("{p}.counters"), counters(s));
    }
    let mut all: Vec<(String, &Tensor)> = module_tensors(model, "");
    all.extend(owned.iter().map(|(n, t)| (n.clone(), t)));
    save_tensors(path, &all, &meta)?;
    Ok(())
}

struct Restored {
    m: Moment,
    v: Option<Tensor>,
    acc: Option<Tensor>,
    touched: Vec<bool>,
    t: u64,
    updates: u64,
    guard_events: u64,
    decayed: bool,
}

/// Restores `model` and `opt` from a checkpoint written by [`save_checkpoint`]. A file from
/// another model or another optimizer (algorithm, k) is an error and changes nothing.
pub fn load_checkpoint(
    path: impl AsRef<Path>,
    model: &mut dyn Module,
    opt: &mut Optimizer,
) -> Result<()> {
    let path_s = path.as_ref().display().to_string();
    let fail = |reason: String| Error::Checkpoint {
        path: path_s.clone(),
        reason,
    };
    let ck = Checkpoint::read(path.as_ref())?;
    let get = |k: &str| ck.metadata.get(k).cloned().unwrap_or_default();
    if get(ALGO) != opt.algo.name() {
        return Err(fail(format!(
            "written by optimizer {:?}, not {:?}",
            get(ALGO),
            opt.algo.name()
        )));
    }
    if get(ACCUM) != opt.algo.grad_accum_steps().to_string() {
        return Err(fail(format!(
            "grad_accum_steps {} in the file, {} here",
            get(ACCUM),
            opt.algo.grad_accum_steps()
        )));
    }
    let mut restored = Vec::with_capacity(opt.slots.len());
    for s in &opt.slots {
        let p = format!("optim.{}", s.name);
        let tensor = |suffix: &str, dtype: DType| -> Result<Option<Tensor>> {
            let Some(t) = ck.get(&format!("{p}.{suffix}")) else {
                return Ok(None);
            };
            if t.shape() != s.shape.as_slice() || t.dtype() != dtype {
                return Err(fail(format!(
                    "{p}.{suffix}: {:?} {} where {:?} {} is needed",
                    t.shape(),
                    t.dtype(),
                    s.shape,
                    dtype
                )));
            }
            Ok(Some(t.try_clone()?))
        };
        let m = match &s.m {
            Moment::Full(cur) => {
                let t = tensor("m", s.dtype)?.ok_or_else(|| fail(format!("{p}.m is missing")))?;
                Moment::Full(t.to_device(&cur.device())?)
            }
            Moment::Bf16(_) => {
                let t =
                    tensor("m", DType::F32)?.ok_or_else(|| fail(format!("{p}.m is missing")))?;
                Moment::Bf16(t.to_vec::<f32>()?.into_iter().map(bf16::from_f32).collect())
            }
        };
        let dev = |t: Option<Tensor>| -> Result<Option<Tensor>> {
            match (t, &s.m) {
                (Some(t), Moment::Full(cur)) => Ok(Some(t.to_device(&cur.device())?)),
                (t, _) => Ok(t),
            }
        };
        let v = dev(tensor("v", s.dtype)?)?;
        if s.v.is_some() != v.is_some() {
            return Err(fail(format!("{p}.v presence differs from the optimizer")));
        }
        let acc = dev(tensor("acc", s.dtype)?)?;
        let touched = match ck.get(&format!("{p}.touched")) {
            Some(t) if t.dtype() == DType::F32 && t.shape() == [s.shape[0]] => {
                t.to_vec::<f32>()?.iter().map(|&x| x != 0.0).collect()
            }
            Some(_) => return Err(fail(format!("{p}.touched has the wrong shape"))),
            None => Vec::new(),
        };
        let c = get(&format!("{p}.counters"));
        let f: Vec<&str> = c.split(',').collect();
        let num = |i: usize| {
            f.get(i)
                .and_then(|x| x.parse::<u64>().ok())
                .ok_or_else(|| fail(format!("{p}.counters {c:?} unreadable")))
        };
        restored.push(Restored {
            m,
            v,
            acc,
            touched,
            t: num(0)?,
            updates: num(1)?,
            guard_events: num(2)?,
            decayed: num(3)? != 0,
        });
    }
    let extra: Vec<&str> = ck
        .names()
        .filter(|n| {
            n.starts_with("optim.")
                && !opt.index.keys().any(|k| {
                    n.strip_prefix("optim.").is_some_and(|r| {
                        r.strip_prefix(k.as_str())
                            .is_some_and(|x| x.starts_with('.'))
                    })
                })
        })
        .collect();
    if !extra.is_empty() {
        return Err(fail(format!(
            "optimizer state for parameters this model lacks: {extra:?}"
        )));
    }
    // The model is restored all-or-nothing; only then is the optimizer state replaced.
    ck.restore_module(model, "", &["optim."])?;
    for (s, r) in opt.slots.iter_mut().zip(restored) {
        s.m = r.m;
        s.v = r.v;
        s.acc = r.acc;
        s.touched = r.touched;
        s.t = r.t;
        s.updates = r.updates;
        s.guard_events = r.guard_events;
        s.decayed = r.decayed;
        s.sum_sq = None;
        s.row_stamp = None;
    }
    Ok(())
}
