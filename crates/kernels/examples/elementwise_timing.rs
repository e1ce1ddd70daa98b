//! Interleaved medians of every elementwise op against its same-traffic ceiling (the cases of
//! `benches/elementwise.rs`): op by op, each round times the op and its ceiling once, one right
//! after the other, so that a load change on a shared machine hits both alike (criterion times
//! one function for seconds, then the other).
//!
//! `cargo run --release -p kernels --example elementwise_timing -- [n] [rounds] [--reuse] [group…]`
//! (defaults: n = 10 000 000, 21 rounds, every group). Prints, per op, the median times, the
//! GB/s of each and the op's share of the ceiling's rate, both as the ratio of the medians and as
//! the median of each round's ratio (`paired`: within a round the two calls are a few
//! milliseconds apart, so drifts of the shared machine cancel; the order alternates per round).
//!
//! Outputs of 32 MB and more are fresh `mmap`s in glibc, so every call pays the kernel's page
//! zeroing on first touch (op and ceiling alike); smaller ones are recycled from the heap after
//! the first call. `--reuse` raises glibc's mmap threshold (`mallopt`) so that the large outputs
//! are recycled too: it measures the kernels without the page faults.

#[path = "../benches/common/elementwise_cases.rs"]
mod elementwise_cases;

use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Makes glibc serve every allocation from its heap (no per-call `mmap`/`munmap`), so freed
/// outputs are reused without page faults.
fn recycle_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any large allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    eprintln!("--reuse: only implemented for glibc; measuring with fresh outputs");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let reuse = args.iter().any(|a| a == "--reuse");
    let groups: Vec<&str> = args
        .iter()
        .filter(|a| a.parse::<usize>().is_err() && !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    if reuse {
        recycle_large_allocations();
    }
    let n = numbers.first().copied().unwrap_or(10_000_000);
    let rounds = numbers.get(1).copied().unwrap_or(21).max(1);
    let cases = elementwise_cases::cases(|g| groups.is_empty() || groups.contains(&g));
    println!(
        "n = {n}, {rounds} interleaved rounds, {} rayon threads, SIMD level {:?}, outputs {}",
        rayon::current_num_threads(),
        kernels::cpu_math::isa(),
        if reuse { "recycled" } else { "fresh" }
    );
    println!(
        "{:<20} {:>10} {:>9} {:>10} {:>9} {:>8} {:>8}",
        "op", "op ms", "GB/s", "ceil ms", "GB/s", "op/ceil", "paired"
    );
    // One case at a time (only its inputs alive); within it, op and ceiling alternate.
    for make in cases {
        let mut c = make(n);
        // One untimed call each: first-use costs (thread pool, page tables) out of the medians.
        (c.op)();
        (c.ceiling)();
        let (mut op_t, mut ceil_t) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                op_t.push(time(&mut c.op));
                ceil_t.push(time(&mut c.ceiling));
            } else {
                ceil_t.push(time(&mut c.ceiling));
                op_t.push(time(&mut c.op));
            }
        }
        let paired = median(ceil_t.iter().zip(&op_t).map(|(e, o)| e / o).collect());
        let (o, e) = (median(op_t), median(ceil_t));
        let gb = (c.bytes_per_elem * n as u64) as f64 / 1e9;
        println!(
            "{:<20} {:>10.3} {:>9.1} {:>10.3} {:>9.1} {:>7.1}% {:>7.1}%",
            c.group,
            o * 1e3,
            gb / o,
            e * 1e3,
            gb / e,
            100.0 * e / o,
            100.0 * paired
        );
    }
}
