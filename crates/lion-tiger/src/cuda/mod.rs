//! CUDA launchers for `optim.cu` (feature `cuda`): the same micro-step logic as the CPU path
//! (`step.rs`), with every tensor of a step in one multi-tensor launch.
//!
//! Host round trips per Tiger step: the per-tensor non-finite flags (one small copy) and the
//! per-block Σθ² partials for the next step's RMS (one small copy). Lazy embedding rows and bf16
//! momentum are CPU-only and rejected before anything runs.

use crate::config::{LionConfig, ParamKind, TigerConfig};
use crate::cpu::{CachedSumSq, ThetaStamp};
use crate::optimizer::{Algorithm, Moment, Slot};
use crate::step::{
    guard_values, lion_decay_mul, phase, tiger_begin, tiger_eta, tiger_guard_event, tiger_knobs,
};
use crate::{Error, Result};
use cudarc::driver::{DevicePtr, LaunchConfig, PushKernelArg};
use kernels::cuda::{Kernel, elementwise_config};
use kernels::{CudaDevice, CudaStorage, Storage, Tensor};

const KERNEL: Kernel = Kernel {
    module: "lion_tiger_optim",
    src: include_str!("optim.cu"),
};
const EPB: usize = 4096;
const THREADS: u32 = 256;

fn drv(op: &'static str) -> impl Fn(cudarc::driver::DriverError) -> Error {
    move |e| {
        Error::Kernel(kernels::Error::Driver {
            op,
            message: format!("{e:?}"),
        })
    }
}

fn ptr(dev: &CudaDevice, s: &CudaStorage) -> u64 {
    let (p, _sync) = s.slice.device_ptr(dev.stream());
    p
}

/// The multi-tensor table of one launch.
#[derive(Default)]
struct Table {
    ptrs: Vec<u64>,
    lens: Vec<u64>,
    sc: Vec<f32>,
    bs: Vec<u32>,
}

impl Table {
    fn push(&mut self, ptrs: [u64; 4], n: usize, sc: [f32; 4]) {
        if self.bs.is_empty() {
            self.bs.push(0);
        }
        let last = *self.bs.last().expect("non-empty");
        self.ptrs.extend(ptrs);
        self.lens.push(n as u64);
        self.sc.extend(sc);
        self.bs.push(last + n.div_ceil(EPB).max(1) as u32);
    }

    fn blocks(&self) -> u32 {
        self.bs.last().copied().unwrap_or(0)
    }

    fn nt(&self) -> u32 {
        self.lens.len() as u32
    }
}

fn cfg(blocks: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// (slot, θ, g, the caller's guard verdict if any).
type Item<'a> = (
    &'a mut Slot,
    &'a mut CudaStorage,
    &'a CudaStorage,
    Option<bool>,
);

fn m_storage(s: &Slot) -> Result<&CudaStorage> {
    match &s.m {
        Moment::Full(t) => match t.storage() {
            Storage::Cuda(c) => Ok(c),
            _ => Err(unsupported("momentum is not on the parameter's device")),
        },
        Moment::Bf16(_) => Err(unsupported("bf16 momentum is CPU-only")),
    }
}

fn unsupported(reason: &str) -> Error {
    Error::Kernel(kernels::Error::Unsupported {
        op: "Optimizer::step (CUDA)",
        reason: reason.into(),
    })
}

fn tensor_storage(t: &Option<Tensor>) -> Option<&CudaStorage> {
    match t.as_ref().map(|t| t.storage()) {
        Some(Storage::Cuda(c)) => Some(c),
        _ => None,
    }
}

/// `acc` (allocated on first use) = g or acc + g; returns the pointer the update reads.
fn accumulate(dev: &CudaDevice, s: &mut Slot, g: &CudaStorage, first: bool) -> Result<u64> {
    if s.acc.is_none() {
        s.acc = Some(Tensor::from_cuda(dev.zeros(g.len)?, &s.shape)?);
    }
    let acc = tensor_storage(&s.acc).ok_or_else(|| unsupported("accumulator off device"))?;
    let f = KERNEL.function(dev, "accumulate_f32")?;
    let (n, first) = (g.len as u64, first as i32);
    let (pa, pg) = (ptr(dev, acc), ptr(dev, g));
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&pa).arg(&pg).arg(&n).arg(&first);
    // SAFETY: acc and g hold n f32 values on this device.
    unsafe { b.launch(elementwise_config(dev, g.len)) }.map_err(drv("accumulate_f32"))?;
    Ok(pa)
}

fn upload<T: cudarc::driver::DeviceRepr>(
    dev: &CudaDevice,
    v: &[T],
) -> Result<cudarc::driver::CudaSlice<T>> {
    dev.stream().clone_htod(v).map_err(drv("upload table"))
}

pub(crate) fn run(algo: &Algorithm, items: Vec<Item<'_>>) -> Result<()> {
    let dev = items[0].1.device.clone();
    for (s, ..) in &items {
        m_storage(s)?;
        if let Algorithm::Tiger(c) = algo
            && c.lazy_embedding_rows
            && s.kind == ParamKind::Embedding
        {
            return Err(unsupported("lazy embedding rows are CPU-only"));
        }
    }
    match algo {
        Algorithm::Lion(c) => lion(&dev, c, items),
        Algorithm::AdamW(c) => adamw(&dev, c, items),
        Algorithm::Tiger(c) => tiger(&dev, c, items),
    }
}

/// Advances the slot's micro-step count (accumulating g when k > 1); on a micro-step that updates,
/// counts the update and returns the pointer of the gradient the update reads.
fn micro_step(dev: &CudaDevice, s: &mut Slot, g: &CudaStorage, k: u32) -> Result<Option<u64>> {
    let (first, update) = phase(s.t, k);
    s.t += 1;
    let gp = if k > 1 {
        accumulate(dev, s, g, first)?
    } else {
        ptr(dev, g)
    };
    if !update {
        return Ok(None);
    }
    s.updates += 1;
    Ok(Some(gp))
}

/// One multi-tensor launch of `name` over the table: arguments (ptrs, lens, sc, bs, nt), then
/// `scalars` in order, then `partial` (one f64 per block) where given.
fn launch_table(
    dev: &CudaDevice,
    name: &'static str,
    t: &Table,
    scalars: &[f32],
    partial: Option<&mut cudarc::driver::CudaSlice<f64>>,
) -> Result<()> {
    let f = KERNEL.function(dev, name)?;
    let (p, l, sc, bs) = (
        upload(dev, &t.ptrs)?,
        upload(dev, &t.lens)?,
        upload(dev, &t.sc)?,
        upload(dev, &t.bs)?,
    );
    let nt = t.nt();
    let mut b = dev.stream().launch_builder(&f);
    b.arg(&p).arg(&l).arg(&sc).arg(&bs).arg(&nt);
    for x in scalars {
        b.arg(x);
    }
    if let Some(partial) = partial {
        b.arg(partial);
    }
    // SAFETY: every table entry points at live device buffers of the stated lengths; partial,
    // where given, has one f64 per block.
    unsafe { b.launch(cfg(t.blocks())) }.map_err(drv(name))?;
    Ok(())
}

fn lion(dev: &CudaDevice, c: &LionConfig, items: Vec<Item<'_>>) -> Result<()> {
    let mut t = Table::default();
    for (s, th, g, _) in items {
        let Some(gp) = micro_step(dev, s, g, c.grad_accum_steps)? else {
            continue;
        };
        let eta = c.lr * s.lr_mult;
        let d = lion_decay_mul(c, eta, c.weight_decay * s.decay);
        let gs = 1.0 / c.grad_accum_steps as f64;
        t.push(
            [ptr(dev, th), gp, ptr(dev, m_storage(s)?), 0],
            th.len,
            [eta as f32, d as f32, gs as f32, 0.0],
        );
    }
    if t.blocks() == 0 {
        return Ok(());
    }
    let betas = [
        c.beta1 as f32,
        (1.0 - c.beta1) as f32,
        c.beta2 as f32,
        (1.0 - c.beta2) as f32,
    ];
    launch_table(dev, "lion_step_f32", &t, &betas, None)
}

fn adamw(dev: &CudaDevice, c: &crate::AdamWConfig, items: Vec<Item<'_>>) -> Result<()> {
    let mut t = Table::default();
    for (s, th, g, _) in items {
        let Some(gp) = micro_step(dev, s, g, c.grad_accum_steps)? else {
            continue;
        };
        let lr = c.lr * s.lr_mult;
        let bc1 = 1.0 - c.beta1.powi(s.updates as i32);
        let bc2 = 1.0 - c.beta2.powi(s.updates as i32);
        let v = tensor_storage(&s.v).ok_or_else(|| unsupported("AdamW v off device"))?;
        let sc = [
            (1.0 - lr * c.weight_decay * s.decay) as f32,
            (lr / bc1) as f32,
            bc2.sqrt() as f32,
            (1.0 / c.grad_accum_steps as f64) as f32,
        ];
        t.push(
            [ptr(dev, th), gp, ptr(dev, m_storage(s)?), ptr(dev, v)],
            th.len,
            sc,
        );
    }
    if t.blocks() == 0 {
        return Ok(());
    }
    let betas_eps = [
        c.beta1 as f32,
        (1.0 - c.beta1) as f32,
        c.beta2 as f32,
        (1.0 - c.beta2) as f32,
        c.eps as f32,
    ];
    launch_table(dev, "adamw_step_f32", &t, &betas_eps, None)
}

/// The guard's verdicts: the caller's where given, else one test launch per remaining gradient.
fn flags(dev: &CudaDevice, c: &TigerConfig, items: &[Item<'_>]) -> Result<Vec<bool>> {
    let given: Vec<bool> = items.iter().map(|i| i.3.unwrap_or(false)).collect();
    let Some(what) = guard_values(c.guard) else {
        return Ok(given);
    };
    if items.iter().all(|i| i.3.is_some()) {
        return Ok(given);
    }
    let nan_only = (what == crate::cpu::BadValues::Nan) as i32;
    let mut fl = dev
        .stream()
        .alloc_zeros::<i32>(items.len().max(1))
        .map_err(drv("flags"))?;
    let f = KERNEL.function(dev, "nonfinite_f32")?;
    for (i, (_, _, g, _)) in items.iter().enumerate().filter(|(_, it)| it.3.is_none()) {
        let n = g.len as u64;
        let pg = ptr(dev, g);
        let mut view = fl.slice_mut(i..i + 1);
        let mut b = dev.stream().launch_builder(&f);
        b.arg(&pg).arg(&n).arg(&nan_only).arg(&mut view);
        // SAFETY: g holds n f32 values; the flag view one i32.
        unsafe { b.launch(elementwise_config(dev, g.len)) }.map_err(drv("nonfinite_f32"))?;
    }
    let host = dev.stream().clone_dtoh(&fl).map_err(drv("flags to host"))?;
    Ok(items
        .iter()
        .zip(&host)
        .map(|(it, &x)| it.3.unwrap_or(x != 0))
        .collect())
}

fn tiger(dev: &CudaDevice, c: &TigerConfig, items: Vec<Item<'_>>) -> Result<()> {
    let bad = flags(dev, c, &items)?;
    let mut t = Table::default();
    // (first block, end block, set, item, θ's stamp)
    let mut caches: Vec<(u32, u32, bool, usize, ThetaStamp)> = Vec::new();
    let mut slots = Vec::new();
    for (idx, ((s, th, g, _), bad)) in items.into_iter().zip(bad).enumerate() {
        let (first, update, step) = tiger_begin(s, c.grad_accum_steps);
        if bad {
            tiger_guard_event(s);
            let f = KERNEL.function(dev, "shrink_f32")?;
            let (p, n, cc, r) = (
                ptr(dev, th),
                th.len as u64,
                s.centre as f32,
                c.shrink_ratio as f32,
            );
            let mut b = dev.stream().launch_builder(&f);
            b.arg(&p).arg(&n).arg(&cc).arg(&r);
            // SAFETY: th holds n f32 values.
            unsafe { b.launch(elementwise_config(dev, th.len)) }.map_err(drv("shrink_f32"))?;
            slots.push(s);
            continue;
        }
        let k = tiger_knobs(c, s, first, update, step);
        let (b1, inc, alpha, lambda) = (k.b1, k.inc, k.alpha, k.lambda);
        if s.kind == ParamKind::Embedding {
            let f = KERNEL.function(dev, "tiger_rows_f32")?;
            let (rows, d) = (s.shape[0] as u64, s.shape[1] as u64);
            let (pt, pg, pm) = (ptr(dev, th), ptr(dev, g), ptr(dev, m_storage(s)?));
            let (b1f, incf, up) = (b1 as f32, inc as f32, update as i32);
            let floor = c.rms_floor;
            let mut b = dev.stream().launch_builder(&f);
            b.arg(&pt)
                .arg(&pg)
                .arg(&pm)
                .arg(&rows)
                .arg(&d)
                .arg(&b1f)
                .arg(&incf)
                .arg(&up)
                .arg(&alpha)
                .arg(&lambda)
                .arg(&floor);
            let grid = (rows as u32).clamp(1, dev.sm_count() * 8);
            // SAFETY: th, g, m hold rows·d f32 values.
            unsafe { b.launch(cfg(grid)) }.map_err(drv("tiger_rows_f32"))?;
            slots.push(s);
            continue;
        }
        let matrix = s.kind == ParamKind::Matrix;
        let stamp = ThetaStamp::device(ptr(dev, th), th.len);
        let ss = match s.sum_sq {
            Some(c) if matrix && update && c.stamp == stamp => Some(c.value),
            _ if matrix && update => Some(crate::cpu::tensor_sum_sq(&th.to_host_vec()?)),
            _ => None,
        };
        let eta = tiger_eta(c, matrix && update, alpha, th.len, || ss.unwrap_or(0.0));
        let start = t.blocks();
        let eta_sc = if update { eta as f32 } else { -1.0 };
        t.push(
            [ptr(dev, th), ptr(dev, g), ptr(dev, m_storage(s)?), 0],
            th.len,
            [b1 as f32, inc as f32, eta_sc, (1.0 - eta * lambda) as f32],
        );
        caches.push((start, t.blocks(), matrix && update, idx, stamp));
        slots.push(s);
    }
    if t.blocks() == 0 {
        return Ok(());
    }
    let mut partial = dev
        .stream()
        .alloc_zeros::<f64>(t.blocks() as usize)
        .map_err(drv("partials"))?;
    launch_table(dev, "tiger_step_f32", &t, &[], Some(&mut partial))?;
    let host = dev
        .stream()
        .clone_dtoh(&partial)
        .map_err(drv("partials to host"))?;
    for (a, e, set, idx, stamp) in caches {
        if set {
            let value = host[a as usize..e as usize].iter().sum();
            slots[idx].sum_sq = Some(CachedSumSq { value, stamp });
        }
    }
    Ok(())
}

/// Host helpers on device storage.
trait ToHost {
    fn to_host_vec(&self) -> Result<Vec<f32>>;
}

impl ToHost for CudaStorage {
    fn to_host_vec(&self) -> Result<Vec<f32>> {
        let mut v = self
            .device
            .stream()
            .clone_dtoh(&self.slice)
            .map_err(drv("to host"))?;
        v.truncate(self.len);
        Ok(v)
    }
}
