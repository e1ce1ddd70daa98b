//! Chunking shared by the CPU kernels (the loops themselves are in [`crate::cpu_math`]).

/// Elements per rayon task for streaming loops: large enough to amortise scheduling, small
/// enough to balance two to sixty-four threads.
pub const CHUNK: usize = 1 << 14;
