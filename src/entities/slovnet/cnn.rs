//! slovnet's CNN encoder and projection: three layers of Conv1d (kernel 3,
//! padding 1), ReLU and BatchNorm (eval mode), then a Linear layer to one
//! score per tag.
//!
//! Owns the numeric core and its memory layout. A sequence of `T` tokens is
//! a row-major `(T + 2) × dim` matrix whose first and last rows are zero:
//! that is the convolution's zero padding, and because slovnet zeroes padded
//! positions after every layer, it is also exactly what slovnet computes for
//! a sequence inside a padded batch. With that layout the three input rows a
//! kernel-3 convolution reads for token `t` are one contiguous slice, so a
//! layer is a plain matrix product over overlapping rows (no im2col copy),
//! computed by a register-blocked kernel over weights packed at load time.
//!
//! Arithmetic is f32 like slovnet's numpy code; the order of additions
//! differs (as it does between numpy builds), so scores agree to about 1e-5,
//! not bit for bit. The kernel is compiled twice: with AVX2+FMA, chosen at
//! run time when the CPU has them, and portable.

use super::SlovnetError;
use super::file::Sections;

/// Output columns per packed weight panel: two AVX registers.
const NR: usize = 16;
/// Token rows per register block: 6 × 2 accumulators plus operands fit
/// AVX2's 16 registers.
const MR: usize = 6;
/// Kernel width of every slovnet convolution.
const KERNEL: usize = 3;

/// One Conv1d + ReLU + BatchNorm1d layer.
#[derive(Debug, Clone)]
pub(super) struct ConvLayer {
    pub in_dim: usize,
    pub out_dim: usize,
    /// `ceil(out / NR)` panels, each `KERNEL * in_dim` rows of `NR` floats:
    /// `panel[p][k * in_dim + i][j] = weight[p * NR + j][i][k]`, zero
    /// beyond `out_dim`.
    packed: Vec<f32>,
    bias: Vec<f32>,
    norm_weight: Vec<f32>,
    norm_bias: Vec<f32>,
    norm_mean: Vec<f32>,
    norm_std: Vec<f32>,
}

impl ConvLayer {
    pub fn load(
        s: &Sections<'_>,
        n: usize,
        in_dim: usize,
        out_dim: usize,
    ) -> Result<ConvLayer, SlovnetError> {
        let weight = s.f32s(&format!("conv{n}.weight"), &[out_dim, in_dim, KERNEL])?;
        let vec = |name: String| s.f32s(&name, &[out_dim]);
        let panels = out_dim.div_ceil(NR);
        let rows = KERNEL * in_dim;
        let mut packed = vec![0.0f32; panels * rows * NR];
        for f in 0..out_dim {
            let (p, j) = (f / NR, f % NR);
            for i in 0..in_dim {
                for k in 0..KERNEL {
                    packed[(p * rows + k * in_dim + i) * NR + j] =
                        weight[(f * in_dim + i) * KERNEL + k];
                }
            }
        }
        Ok(ConvLayer {
            in_dim,
            out_dim,
            packed,
            bias: vec(format!("conv{n}.bias"))?,
            norm_weight: vec(format!("norm{n}.weight"))?,
            norm_bias: vec(format!("norm{n}.bias"))?,
            norm_mean: vec(format!("norm{n}.mean"))?,
            norm_std: vec(format!("norm{n}.std"))?,
        })
    }

    /// `input`: `(t + 2) × in_dim` with zero first and last rows; `output`:
    /// resized to `(t + 2) × out_dim`, same layout.
    pub fn forward(&self, simd: bool, input: &[f32], t: usize, output: &mut Vec<f32>) {
        output.clear();
        output.resize((t + 2) * self.out_dim, 0.0);
        if t == 0 {
            return;
        }
        gemm(
            simd,
            self,
            input,
            t,
            &mut output[self.out_dim..(t + 1) * self.out_dim],
        );
        // Same operations in the same order as slovnet's numpy: conv + bias,
        // clip(0), then (x - mean) / std * weight + bias.
        for row in output[self.out_dim..(t + 1) * self.out_dim].chunks_exact_mut(self.out_dim) {
            for (f, v) in row.iter_mut().enumerate() {
                let x = (*v + self.bias[f]).max(0.0);
                *v = (x - self.norm_mean[f]) / self.norm_std[f] * self.norm_weight[f]
                    + self.norm_bias[f];
            }
        }
    }
}

/// `out[t][f] = Σ_{k,i} input[t + k][i] · weight[f][i][k]` for the `t`
/// tokens (bias and activation left to the caller).
fn gemm(simd: bool, layer: &ConvLayer, input: &[f32], t: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` is only true when the CPU was found at load time to
        // support AVX2 and FMA (see `cpu_has_simd`), the features
        // `gemm_avx2_fma` is compiled for.
        unsafe { gemm_avx2_fma(layer, input, t, out) };
        return;
    }
    let _ = simd;
    gemm_generic::<false>(layer, input, t, out);
}

/// Whether the AVX2+FMA kernel may run on this CPU.
pub(super) fn cpu_has_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_avx2_fma(layer: &ConvLayer, input: &[f32], t: usize, out: &mut [f32]) {
    gemm_generic::<true>(layer, input, t, out);
}

#[inline(always)]
fn gemm_generic<const FMA: bool>(layer: &ConvLayer, input: &[f32], t: usize, out: &mut [f32]) {
    let in_dim = layer.in_dim;
    let kdim = KERNEL * in_dim;
    for (p, panel) in layer.packed.chunks_exact(kdim * NR).enumerate() {
        let cols = NR.min(layer.out_dim - p * NR);
        let mut row = 0;
        while row < t {
            let rows = MR.min(t - row);
            // Token `row + r` reads padded rows `row + r ..= row + r + 2`,
            // i.e. `kdim` floats starting at `(row + r) * in_dim`.
            let a = &input[row * in_dim..(row + rows - 1) * in_dim + kdim];
            let mut acc = [[0.0f32; NR]; MR];
            match rows {
                6 => block::<FMA, 6>(a, in_dim, kdim, panel, &mut acc),
                5 => block::<FMA, 5>(a, in_dim, kdim, panel, &mut acc),
                4 => block::<FMA, 4>(a, in_dim, kdim, panel, &mut acc),
                3 => block::<FMA, 3>(a, in_dim, kdim, panel, &mut acc),
                2 => block::<FMA, 2>(a, in_dim, kdim, panel, &mut acc),
                _ => block::<FMA, 1>(a, in_dim, kdim, panel, &mut acc),
            }
            for (r, acc_row) in acc.iter().enumerate().take(rows) {
                let dst = &mut out[(row + r) * layer.out_dim + p * NR..][..cols];
                dst.copy_from_slice(&acc_row[..cols]);
            }
            row += rows;
        }
    }
}

/// `R` token rows × `NR` columns over the whole reduction, kept in
/// registers. `a` holds the rows at stride `in_dim`, each `kdim` long.
#[inline(always)]
fn block<const FMA: bool, const R: usize>(
    a: &[f32],
    in_dim: usize,
    kdim: usize,
    panel: &[f32],
    acc: &mut [[f32; NR]; MR],
) {
    let rows: [&[f32]; R] = std::array::from_fn(|r| &a[r * in_dim..r * in_dim + kdim]);
    let (panel, _) = panel.as_chunks::<NR>();
    let mut local = [[0.0f32; NR]; R];
    // `while` rather than `for`: the same machine code when optimised, but
    // an unoptimised (test) build then makes no iterator call per
    // multiply-add, which makes the parity tests several times faster.
    let mut k = 0;
    while k < kdim {
        let b = &panel[k];
        let mut r = 0;
        while r < R {
            let x = rows[r][k];
            let l = &mut local[r];
            let mut j = 0;
            while j < NR {
                l[j] = if FMA {
                    x.mul_add(b[j], l[j])
                } else {
                    x * b[j] + l[j]
                };
                j += 1;
            }
            r += 1;
        }
        k += 1;
    }
    acc[..R].copy_from_slice(&local);
}

/// slovnet's `Linear` head: `input × weight + bias`, weight `in × out`.
#[derive(Debug, Clone)]
pub(super) struct Linear {
    pub in_dim: usize,
    pub out_dim: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    pub fn load(s: &Sections<'_>, in_dim: usize, out_dim: usize) -> Result<Linear, SlovnetError> {
        Ok(Linear {
            in_dim,
            out_dim,
            weight: s.f32s("proj.weight", &[in_dim, out_dim])?,
            bias: s.f32s("proj.bias", &[out_dim])?,
        })
    }

    /// `input`: rows of `in_dim`; appends one row of `out_dim` to `output`
    /// per input row.
    pub fn forward(&self, input: &[f32], output: &mut Vec<f32>) {
        for row in input.chunks_exact(self.in_dim) {
            let start = output.len();
            output.resize(start + self.out_dim, 0.0);
            let dst = &mut output[start..];
            for (x, w) in row.iter().zip(self.weight.chunks_exact(self.out_dim)) {
                for (d, &wj) in dst.iter_mut().zip(w) {
                    *d += x * wj;
                }
            }
            for (d, b) in dst.iter_mut().zip(&self.bias) {
                *d += b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution, the textbook way, for checking the packed kernel.
    fn naive(weight: &[f32], in_dim: usize, out_dim: usize, input: &[f32], t: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; t * out_dim];
        for tok in 0..t {
            for f in 0..out_dim {
                let mut s = 0.0f64;
                for k in 0..KERNEL {
                    for i in 0..in_dim {
                        s += f64::from(input[(tok + k) * in_dim + i])
                            * f64::from(weight[(f * in_dim + i) * KERNEL + k]);
                    }
                }
                out[tok * out_dim + f] = s as f32;
            }
        }
        out
    }

    #[test]
    fn packed_kernel_matches_direct_convolution() {
        // Odd sizes on purpose: a partial panel and every remainder of MR.
        let (in_dim, out_dim) = (7, 21);
        let mut seed = 1u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        let weight: Vec<f32> = (0..out_dim * in_dim * KERNEL).map(|_| rnd()).collect();
        let rows = KERNEL * in_dim;
        let mut packed = vec![0.0f32; out_dim.div_ceil(NR) * rows * NR];
        for f in 0..out_dim {
            for i in 0..in_dim {
                for k in 0..KERNEL {
                    packed[((f / NR) * rows + k * in_dim + i) * NR + f % NR] =
                        weight[(f * in_dim + i) * KERNEL + k];
                }
            }
        }
        let layer = ConvLayer {
            in_dim,
            out_dim,
            packed,
            bias: vec![0.0; out_dim],
            norm_weight: vec![1.0; out_dim],
            norm_bias: vec![0.0; out_dim],
            norm_mean: vec![0.0; out_dim],
            norm_std: vec![1.0; out_dim],
        };
        for t in 1..=13 {
            let mut input: Vec<f32> = (0..(t + 2) * in_dim).map(|_| rnd()).collect();
            input[..in_dim].fill(0.0);
            input[(t + 1) * in_dim..].fill(0.0);
            let want = naive(&weight, in_dim, out_dim, &input, t);
            for simd in [false, cpu_has_simd()] {
                let mut got = vec![0.0f32; t * out_dim];
                gemm(simd, &layer, &input, t, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-5, "t={t} simd={simd}: {g} vs {w}");
                }
            }
        }
    }
}
