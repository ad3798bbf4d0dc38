//! occlab's CPU kernels: plain functions on `f32` slices, parallel with rayon.
//!
//! Why a crate of its own: occlab's main crate builds at `opt-level = 1` with debug assertions
//! in the dev and test profiles (it is large, and builds often), which makes hand-written loops
//! several times slower than they are in a release build. The kernels live here, and the
//! workspace's `Cargo.toml` builds this small crate optimised in every profile, so `cargo test`,
//! the benchmarks and the workbench run them at full speed. The Burn glue (autodiff steps,
//! tensors) is in occlab's `model::{conv, pool, dropout}` and `train::adam`.
//!
//! Every kernel is tested in occlab against the Burn operation it replaces.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// A vector of `len` floats, filled in parallel chunks of `chunk` elements (the last may be
/// shorter) by `fill(chunk_index, slots)`, without zeroing the memory first: for outputs of
/// tens of MB, zeroing is a whole extra pass over memory on one thread.
///
/// # Safety
/// `fill` must write every slot of the chunk it is given (`MaybeUninit::write`,
/// `write_copy_of_slice`, …); a slot left unwritten would be read uninitialised.
unsafe fn par_filled(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    if len > 0 {
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(chunk.max(1))
            .enumerate()
            .for_each(|(i, slots)| fill(i, slots));
    }
    // SAFETY: the caller's `fill` wrote every one of the `len` slots.
    unsafe { out.set_len(len) };
    out
}

/// Elements per parallel chunk of the element-wise kernels.
const CHUNK: usize = 1 << 15;

// ---------------------------------------------------------------------------------------------
// Adam

/// The per-step scalars of one Adam update, computed by the caller the way Burn computes them.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// β₁ and 1 − β₁.
    pub keep_1: f32,
    pub take_1: f32,
    /// β₂ and 1 − β₂.
    pub keep_2: f32,
    pub take_2: f32,
    /// `√(1 − β₂ᵗ) / (1 − β₁ᵗ)`.
    pub combined_factor: f32,
    /// `ε · √(1 − β₂ᵗ)`.
    pub epsilon: f32,
    pub learning_rate: f32,
    /// L2 penalty added to the gradient (`p · penalty + g`), if any.
    pub weight_decay: Option<f32>,
}

/// One Adam update in place, in Burn's order of floating-point operations:
/// `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, `p −= lr · (m·f) / (√v + ε')`.
///
/// Subnormal floats (magnitude below 1.18e-38, f32's smallest normal) are treated as zero while
/// it runs (on x86-64: the FTZ and DAZ bits of each worker thread's MXCSR, restored afterwards;
/// see [`FlushSubnormals`]). Training makes many of them: a weight whose gradient is almost
/// always zero sees its first moment decay by β₁ each step and its gradient's square underflow,
/// and x86 cores take a microcode assist on every such operand or result. Measured on this
/// project's 2-core Xeon: this loop over 13 M elements took 20 ms with normal values and
/// 480–710 ms when the gradients or moments were subnormal (docs/PERFORMANCE.md). Where no value
/// is subnormal the results are bit-for-bit those of Burn's Adam; where one is, the update uses
/// zero in its place (a difference below 1.2e-38).
///
/// # Panics
/// If the four slices differ in length.
pub fn adam_step(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], s: AdamStep) {
    assert!(
        p.len() == m.len() && p.len() == v.len() && p.len() == g.len(),
        "adam_step: parameter, moments and gradient differ in length"
    );
    p.par_chunks_mut(CHUNK)
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|(((p, m), v), g)| {
            let _flush = FlushSubnormals::on_this_thread();
            match s.weight_decay {
                Some(penalty) => adam_chunk(p, m, v, g, &s, |p, g| p * penalty + g),
                None => adam_chunk(p, m, v, g, &s, |_, g| g),
            }
        });
}

/// One chunk of [`adam_step`], with the weight decay decided outside the loop (so that the loop
/// has no branch and the compiler can vectorise it: the same operations per element, in the same
/// order, so the same results).
#[inline(always)]
fn adam_chunk(
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    s: &AdamStep,
    decayed: impl Fn(f32, f32) -> f32,
) {
    let n = p.len();
    let (m, v, g) = (&mut m[..n], &mut v[..n], &g[..n]);
    let AdamStep {
        keep_1,
        take_1,
        keep_2,
        take_2,
        combined_factor,
        epsilon,
        learning_rate,
        ..
    } = *s;
    for i in 0..n {
        let g = decayed(p[i], g[i]);
        let mi = m[i] * keep_1 + g * take_1;
        let vi = v[i] * keep_2 + (g * g) * take_2;
        m[i] = mi;
        v[i] = vi;
        let update = (mi * combined_factor) / (vi.sqrt() + epsilon);
        p[i] -= update * learning_rate;
    }
}

/// While alive, the calling thread treats subnormal floats as zero, as inputs (DAZ) and as
/// results (FTZ); dropping it restores the thread's previous setting. On x86-64 this is the
/// MXCSR register of SSE/AVX arithmetic (what Rust's `f32` uses there); elsewhere it does
/// nothing (ARM cores handle subnormals without a penalty of this size).
pub struct FlushSubnormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

/// MXCSR bits: flush-to-zero (15) and denormals-are-zero (6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

impl FlushSubnormals {
    /// Turns flushing on for the calling thread until the value is dropped.
    #[must_use = "flushing stops when the guard is dropped"]
    pub fn on_this_thread() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = mxcsr();
            set_mxcsr(saved | FTZ_DAZ);
            Self { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self {}
    }

    /// Whether the calling thread flushes subnormals now (for tests; false off x86-64).
    pub fn active_on_this_thread() -> bool {
        #[cfg(target_arch = "x86_64")]
        return mxcsr() & FTZ_DAZ == FTZ_DAZ;
        #[cfg(not(target_arch = "x86_64"))]
        false
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        set_mxcsr(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
fn mxcsr() -> u32 {
    let mut value: u32 = 0;
    // SAFETY: stores the MXCSR register (SSE, present on every x86-64 core) into a local.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
    }
    value
}

#[cfg(target_arch = "x86_64")]
fn set_mxcsr(value: u32) {
    // SAFETY: loads MXCSR from a local; callers pass a value read from MXCSR with only the
    // FTZ and DAZ bits changed, which are defined on every x86-64 core (DAZ since SSE2).
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags));
    }
}

// ---------------------------------------------------------------------------------------------
// 2×2 max pooling, stride 2

/// Planes (`h × w` images of one channel) per parallel task.
const PLANES_PER_TASK: usize = 16;

/// 2×2 max pooling at stride 2 of `planes` contiguous `h × w` planes → `⌊h/2⌋ × ⌊w/2⌋` each.
/// With `keep_argmax`, also each output's window position (0–3, row-major; the first maximum
/// wins a tie) for [`max_pool_2x2_backward`].
pub fn max_pool_2x2(
    src: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    keep_argmax: bool,
) -> (Vec<f32>, Vec<u8>) {
    assert_eq!(src.len(), planes * h * w, "max_pool_2x2: input length");
    let (oh, ow) = (h / 2, w / 2);
    let plane_out = oh * ow;
    let pool_plane = |plane: &[f32], out: &mut [MaybeUninit<f32>], mut arg: Option<&mut [u8]>| {
        for oy in 0..oh {
            let top = &plane[2 * oy * w..][..w];
            let bottom = &plane[(2 * oy + 1) * w..][..w];
            for ox in 0..ow {
                let window = [
                    top[2 * ox],
                    top[2 * ox + 1],
                    bottom[2 * ox],
                    bottom[2 * ox + 1],
                ];
                let (mut best, mut at) = (window[0], 0u8);
                for (k, &v) in window.iter().enumerate().skip(1) {
                    // Selects, not branches: which element wins is data, not a pattern.
                    let greater = v > best;
                    best = if greater { v } else { best };
                    at = if greater { k as u8 } else { at };
                }
                out[oy * ow + ox].write(best);
                if let Some(arg) = arg.as_deref_mut() {
                    arg[oy * ow + ox] = at;
                }
            }
        }
    };
    let task = (PLANES_PER_TASK * plane_out).max(1);
    let len = planes * plane_out;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let mut argmax = vec![0u8; if keep_argmax { len } else { 0 }];
    let slots = &mut out.spare_capacity_mut()[..len];
    let run = |t: usize, out: &mut [MaybeUninit<f32>], mut arg: Option<&mut [u8]>| {
        for (p, out) in out.chunks_mut(plane_out.max(1)).enumerate() {
            let plane = &src[(t * PLANES_PER_TASK + p) * h * w..][..h * w];
            let arg = arg
                .as_deref_mut()
                .map(|a| &mut a[p * plane_out..][..plane_out]);
            pool_plane(plane, out, arg);
        }
    };
    if keep_argmax {
        slots
            .par_chunks_mut(task)
            .zip(argmax.par_chunks_mut(task))
            .enumerate()
            .for_each(|(t, (out, arg))| run(t, out, Some(arg)));
    } else {
        slots
            .par_chunks_mut(task)
            .enumerate()
            .for_each(|(t, out)| run(t, out, None));
    }
    // SAFETY: `pool_plane` wrote every output of every plane.
    unsafe { out.set_len(len) };
    (out, argmax)
}

/// The input gradient of [`max_pool_2x2`]: each window's maximum gets the output gradient,
/// every other input (and an odd last row or column) zero.
pub fn max_pool_2x2_backward(
    dy: &[f32],
    argmax: &[u8],
    planes: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let plane_out = oh * ow;
    assert!(
        dy.len() == planes * plane_out && argmax.len() == dy.len(),
        "max_pool_2x2_backward: gradient or window positions of the wrong length"
    );
    if planes * h * w == 0 {
        return Vec::new();
    }
    // SAFETY: every slot of every plane is written: each window's four (the maximum gets the
    // gradient, the rest zero), then an odd last column and an odd last row (zeros).
    unsafe {
        par_filled(planes * h * w, PLANES_PER_TASK * h * w, |t, dx| {
            for (p, plane) in dx.chunks_mut(h * w).enumerate() {
                let o = (t * PLANES_PER_TASK + p) * plane_out;
                for oy in 0..oh {
                    let (top, bottom) = plane[2 * oy * w..(2 * oy + 2) * w].split_at_mut(w);
                    for ox in 0..ow {
                        let i = o + oy * ow + ox;
                        let (g, at) = (dy[i], argmax[i]);
                        top[2 * ox].write(if at == 0 { g } else { 0.0 });
                        top[2 * ox + 1].write(if at == 1 { g } else { 0.0 });
                        bottom[2 * ox].write(if at == 2 { g } else { 0.0 });
                        bottom[2 * ox + 1].write(if at == 3 { g } else { 0.0 });
                    }
                    if w % 2 == 1 {
                        top[w - 1].write(0.0);
                        bottom[w - 1].write(0.0);
                    }
                }
                if h % 2 == 1 {
                    for v in &mut plane[(h - 1) * w..] {
                        v.write(0.0);
                    }
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Dropout

/// SplitMix64's finaliser of `seed + (i + 1) · γ`: a well-mixed 64-bit word per element.
fn hash(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Dropout of `src`: element `i` is kept when a 16-bit lane of a SplitMix64 hash of
/// `(seed, i / 4)` falls below `keep · 2¹⁶` (one hash serves four elements; `keep` is thus
/// rounded to a multiple of 1/65,536 — exact for the usual rates 0.25 and 0.5), and scaled by
/// `scale`; the rest become zero. Returns the output and the mask (1 = kept) for
/// [`dropout_backward`].
pub fn dropout(src: &[f32], seed: u64, keep: f64, scale: f32) -> (Vec<f32>, Vec<u8>) {
    let threshold = (keep * 65_536.0).round() as u64;
    let len = src.len();
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let mut mask = vec![0u8; len];
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(CHUNK)
        .zip(mask.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (out, mask))| {
            let first = c * CHUNK; // a multiple of 4: the lanes line up with the chunks
            for (q, (out, mask)) in out.chunks_mut(4).zip(mask.chunks_mut(4)).enumerate() {
                let i = first + 4 * q;
                let word = hash(seed, (i / 4) as u64);
                for (lane, (o, m)) in out.iter_mut().zip(mask.iter_mut()).enumerate() {
                    // Selects, not branches (the draw is random: a branch would be mispredicted).
                    let kept = (word >> (16 * lane)) & 0xFFFF < threshold;
                    *m = u8::from(kept);
                    o.write(if kept { src[i + lane] * scale } else { 0.0 });
                }
            }
        });
    // SAFETY: every slot was written (the scaled value or zero).
    unsafe { out.set_len(len) };
    (out, mask)
}

/// The input gradient of [`dropout`]: `dy · scale` where the mask kept the element, else zero.
pub fn dropout_backward(dy: &[f32], mask: &[u8], scale: f32) -> Vec<f32> {
    assert_eq!(dy.len(), mask.len(), "dropout_backward: mask length");
    // SAFETY: every slot is written.
    unsafe {
        par_filled(dy.len(), CHUNK, |c, out| {
            let first = c * CHUNK;
            for (j, o) in out.iter_mut().enumerate() {
                let i = first + j;
                o.write(if mask[i] != 0 { dy[i] * scale } else { 0.0 });
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Convolution pieces

/// The geometry of a 2-D convolution's im2col.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Im2colGeometry {
    /// `[n, c_in, h, w]` of the input.
    pub input: [usize; 4],
    /// `[h', w']` of the output.
    pub out_size: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Zero padding before the first row / column (top, left).
    pub pad_start: [usize; 2],
}

/// The im2col matrix `[n, h'·w', k_h·k_w·c_in]` of NCHW `src`: every output pixel's patch, taps
/// in (ky, kx, c) order, zeros where a tap falls in the padding. Image by image in parallel:
/// the image goes channels-last into a zero-bordered buffer (one per thread), where the `k_w`
/// taps of one kernel row are `k_w · c_in` contiguous values, so each kernel row of each patch
/// is one copy.
pub fn im2col(src: &[f32], g: Im2colGeometry) -> Vec<f32> {
    let [n, c_in, h, w] = g.input;
    assert_eq!(src.len(), n * c_in * h * w, "im2col: input length");
    let [oh, ow] = g.out_size;
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad_start;
    let taps = kh * kw * c_in;
    // The padded image covers every tap of every output pixel.
    let hp = (oh.saturating_sub(1) * sh + kh).max(ph + h);
    let wp = (ow.saturating_sub(1) * sw + kw).max(pw + w);
    let per_image = oh * ow * taps;
    let image_len = c_in * h * w;
    if per_image == 0 {
        return Vec::new();
    }
    thread_local! {
        static PADDED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // SAFETY: every row of `taps` slots is written, kernel row by kernel row (`k_h` runs of
    // `k_w · c_in` = `taps`).
    unsafe {
        par_filled(n * per_image, per_image, |b, out| {
            PADDED.with_borrow_mut(|padded| {
                padded.clear();
                padded.resize(hp * wp * c_in, 0.0);
                let image = &src[b * image_len..][..image_len];
                for (c, plane) in image.chunks_exact(h * w).enumerate() {
                    for (y, line) in plane.chunks_exact(w).enumerate() {
                        let at = ((y + ph) * wp + pw) * c_in + c;
                        for (x, &v) in line.iter().enumerate() {
                            padded[at + x * c_in] = v;
                        }
                    }
                }
                let run = kw * c_in;
                for (pixel, row) in out.chunks_exact_mut(taps).enumerate() {
                    let (oy, ox) = (pixel / ow, pixel % ow);
                    for (ky, dst) in row.chunks_exact_mut(run).enumerate() {
                        let at = ((oy * sh + ky) * wp + ox * sw) * c_in;
                        dst.write_copy_of_slice(&padded[at..at + run]);
                    }
                }
            })
        })
    }
}

/// Pixel-major rows `y [batch·pixels, c_out]` (a matrix product's output) → NCHW
/// `[batch, c_out, pixels]`, adding `bias[c]` to channel `c`. Pixel blocks of 16 keep the reads
/// in cache while every channel's run of 16 is written.
pub fn rows_to_nchw_with_bias(y: &[f32], batch: usize, pixels: usize, bias: &[f32]) -> Vec<f32> {
    let c_out = bias.len();
    assert_eq!(
        y.len(),
        batch * pixels * c_out,
        "rows_to_nchw_with_bias: input length"
    );
    const BLOCK: usize = 16;
    // SAFETY: every (channel, pixel) of every image is written, pixel block by block.
    unsafe {
        par_filled(batch * c_out * pixels, c_out * pixels, |i, out| {
            let y = &y[i * pixels * c_out..][..pixels * c_out];
            for p0 in (0..pixels).step_by(BLOCK) {
                let len = BLOCK.min(pixels - p0);
                for (o, &bias) in bias.iter().enumerate() {
                    let dst = &mut out[o * pixels + p0..][..len];
                    for (k, d) in dst.iter_mut().enumerate() {
                        d.write(y[(p0 + k) * c_out + o] + bias);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic test values.
    fn values(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 % 1009) as f32) / 100.0 - 5.0)
            .collect()
    }

    /// im2col equals its definition for strides 1–2, paddings 0–2, odd and even sizes, and a
    /// patch length that is not a multiple of anything convenient.
    #[test]
    fn im2col_matches_its_definition() {
        for (input, kernel, stride, pad) in [
            ([2, 3, 5, 6], [3, 3], [1, 1], [1, 1]),
            ([1, 2, 7, 7], [3, 2], [2, 1], [2, 0]),
            ([3, 1, 4, 4], [3, 3], [2, 2], [0, 0]),
            ([1, 4, 6, 5], [1, 1], [1, 1], [0, 0]),
        ] {
            let [n, c, h, w] = input;
            let out = |size: usize, k: usize, s: usize, p: usize| (size + 2 * p - k) / s + 1;
            let (oh, ow) = (
                out(h, kernel[0], stride[0], pad[0]),
                out(w, kernel[1], stride[1], pad[1]),
            );
            let src = values(n * c * h * w);
            let g = Im2colGeometry {
                input,
                out_size: [oh, ow],
                kernel,
                stride,
                pad_start: pad,
            };
            let cols = im2col(&src, g);
            let taps = kernel[0] * kernel[1] * c;
            assert_eq!(cols.len(), n * oh * ow * taps);
            for b in 0..n {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ky in 0..kernel[0] {
                            for kx in 0..kernel[1] {
                                for ch in 0..c {
                                    let iy = (oy * stride[0] + ky) as isize - pad[0] as isize;
                                    let ix = (ox * stride[1] + kx) as isize - pad[1] as isize;
                                    let inside = (0..h as isize).contains(&iy)
                                        && (0..w as isize).contains(&ix);
                                    let expected = if inside {
                                        src[((b * c + ch) * h + iy as usize) * w + ix as usize]
                                    } else {
                                        0.0
                                    };
                                    let at = ((b * oh + oy) * ow + ox) * taps
                                        + (ky * kernel[1] + kx) * c
                                        + ch;
                                    assert_eq!(
                                        cols[at], expected,
                                        "{input:?} {b} {oy} {ox} {ky} {kx} {ch}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rows_to_nchw_transposes_and_adds_the_bias() {
        let (batch, pixels, bias) = (3, 37, [0.5f32, -1.0, 2.0]);
        let y = values(batch * pixels * bias.len());
        let out = rows_to_nchw_with_bias(&y, batch, pixels, &bias);
        for b in 0..batch {
            for c in 0..bias.len() {
                for p in 0..pixels {
                    assert_eq!(
                        out[(b * bias.len() + c) * pixels + p],
                        y[(b * pixels + p) * bias.len() + c] + bias[c]
                    );
                }
            }
        }
    }

    /// Pooling picks each window's maximum (first one on a tie); the gradient goes to it alone;
    /// an odd last row and column are dropped and get zero gradient.
    #[test]
    fn max_pool_picks_the_first_maximum_and_routes_the_gradient() {
        let src = vec![
            1.0, 3.0, 2.0, 2.0, 9.0, //
            3.0, 0.0, 1.0, 2.0, 9.0, //
            9.0, 9.0, 9.0, 9.0, 9.0,
        ];
        let (out, arg) = max_pool_2x2(&src, 1, 3, 5, true);
        assert_eq!(out, vec![3.0, 2.0]);
        assert_eq!(arg, vec![1, 0]);
        let dx = max_pool_2x2_backward(&[10.0, 20.0], &arg, 1, 3, 5);
        let mut expected = vec![0.0; 15];
        expected[1] = 10.0;
        expected[2] = 20.0;
        assert_eq!(dx, expected);
    }

    /// Adam's first step from zero moments moves every parameter by about the learning rate
    /// against the sign of its gradient (the bias-corrected ratio is ±1).
    #[test]
    fn adam_first_step_moves_by_the_learning_rate() {
        let n = 100_000;
        let g: Vec<f32> = (0..n)
            .map(|i| if i % 2 == 0 { 0.3 } else { -2.0 })
            .collect();
        let (mut p, mut m, mut v) = (vec![1.0f32; n], vec![0.0; n], vec![0.0; n]);
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-5f32);
        let bc2 = (1.0 - b2).sqrt();
        adam_step(
            &mut p,
            &mut m,
            &mut v,
            &g,
            AdamStep {
                keep_1: b1,
                take_1: 1.0 - b1,
                keep_2: b2,
                take_2: 1.0 - b2,
                combined_factor: bc2 / (1.0 - b1),
                epsilon: eps * bc2,
                learning_rate: 0.01,
                weight_decay: None,
            },
        );
        for (i, p) in p.iter().enumerate() {
            let expected = if i % 2 == 0 { 0.99 } else { 1.01 };
            assert!((p - expected).abs() < 1e-4, "{i}: {p}");
        }
    }

    /// Subnormal moments and gradients count as zero (so the slow path of x86 cores is never
    /// taken), normal ones are untouched, and the thread's floating-point mode is as before.
    #[test]
    fn adam_flushes_subnormals_and_restores_the_thread_mode() {
        let tiny = f32::MIN_POSITIVE / 4.0; // subnormal
        assert!(tiny > 0.0 && !tiny.is_normal());
        let step = AdamStep {
            keep_1: 0.9,
            take_1: 0.1,
            keep_2: 0.999,
            take_2: 0.001,
            combined_factor: 1.0,
            epsilon: 1e-5,
            learning_rate: 0.01,
            weight_decay: None,
        };
        let before = FlushSubnormals::active_on_this_thread();
        // Element 0: subnormal first moment and gradient → as if both were zero: m = 0, p kept.
        // Element 1: a gradient whose square underflows (1e-20² = 1e-40) → v = β₂v exactly.
        // Element 2: normal values → Burn's formulas.
        let mut p = vec![1.0f32, 1.0, 1.0];
        let mut m = vec![tiny, 0.0, 0.5];
        let mut v = vec![0.0f32, 1e-8, 0.25];
        let g = vec![tiny, 1e-20, 0.2];
        adam_step(&mut p, &mut m, &mut v, &g, step);
        assert_eq!(
            m[0].to_bits(),
            0,
            "subnormal moment and gradient read as zero"
        );
        assert_eq!(v[0].to_bits(), 0);
        assert_eq!(p[0], 1.0);
        assert_eq!(
            v[1],
            1e-8f32 * 0.999,
            "the underflowing square adds exactly zero"
        );
        let (mi, vi) = (
            0.5f32 * 0.9 + 0.2 * 0.1,
            0.25f32 * 0.999 + (0.2f32 * 0.2) * 0.001,
        );
        assert_eq!((m[2], v[2]), (mi, vi));
        assert_eq!(p[2], 1.0 - (mi * 1.0) / (vi.sqrt() + 1e-5) * 0.01);
        assert_eq!(FlushSubnormals::active_on_this_thread(), before);
        #[cfg(target_arch = "x86_64")]
        {
            let guard = FlushSubnormals::on_this_thread();
            assert!(FlushSubnormals::active_on_this_thread());
            drop(guard);
            assert_eq!(FlushSubnormals::active_on_this_thread(), before);
        }
    }

    #[test]
    fn dropout_keeps_its_share_and_its_gradient_follows_the_mask() {
        let src = vec![1.0f32; 200_000];
        let (out, mask) = dropout(&src, 42, 0.75, 1.0 / 0.75);
        let kept = mask.iter().filter(|&&m| m == 1).count() as f64 / src.len() as f64;
        assert!((kept - 0.75).abs() < 0.01, "{kept}");
        let dx = dropout_backward(&src, &mask, 2.0);
        for ((o, m), d) in out.iter().zip(&mask).zip(&dx) {
            assert_eq!(*o, if *m == 1 { 1.0 / 0.75 } else { 0.0 });
            assert_eq!(*d, if *m == 1 { 2.0 } else { 0.0 });
        }
        assert_eq!(dropout(&src, 42, 0.75, 1.0).1, mask, "same seed, same mask");
        assert_ne!(
            dropout(&src, 43, 0.75, 1.0).1,
            mask,
            "another seed, another mask"
        );
    }
}
