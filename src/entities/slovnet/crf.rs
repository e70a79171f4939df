//! Viterbi decoding with slovnet's CRF transition matrix.
//!
//! Owns the best-path search exactly as slovnet's numpy `CRF.decode` does
//! it: no start or end scores, `transitions[from][to]`, each step's score
//! formed as `(score[from] + transitions[from][to]) + emission[to]` in that
//! order, and ties going to the lowest index (numpy's `argmax`). Keeping the
//! order of additions and the tie rule matters: near-ties are where a port
//! silently disagrees.

/// Decodes `emissions` (`t × tags`, row-major) into `out` (tag indices).
/// `score`, `next` and `back` are scratch buffers, reused across calls.
pub(super) fn viterbi(
    transitions: &[f32],
    tags: usize,
    emissions: &[f32],
    scratch: &mut CrfScratch,
    out: &mut Vec<u8>,
) {
    out.clear();
    let t = emissions.len() / tags;
    if t == 0 {
        return;
    }
    let CrfScratch { score, next, back } = scratch;
    score.clear();
    score.extend_from_slice(&emissions[..tags]);
    next.clear();
    next.resize(tags, 0.0);
    back.clear();
    back.resize((t - 1) * tags, 0);
    for (step, em) in emissions.chunks_exact(tags).enumerate().skip(1) {
        let back_row = &mut back[(step - 1) * tags..step * tags];
        for to in 0..tags {
            let mut best = (score[0] + transitions[to]) + em[to];
            let mut arg = 0usize;
            for from in 1..tags {
                let v = (score[from] + transitions[from * tags + to]) + em[to];
                // Strictly greater: the first maximum wins, as in numpy.
                if v > best {
                    best = v;
                    arg = from;
                }
            }
            next[to] = best;
            back_row[to] = arg as u8;
        }
        std::mem::swap(score, next);
    }
    let mut best = 0usize;
    for (i, &v) in score.iter().enumerate() {
        if v > score[best] {
            best = i;
        }
    }
    out.resize(t, 0);
    out[t - 1] = best as u8;
    for step in (1..t).rev() {
        best = usize::from(back[(step - 1) * tags + best]);
        out[step - 1] = best as u8;
    }
}

/// Buffers [`viterbi`] reuses.
#[derive(Debug, Default, Clone)]
pub(super) struct CrfScratch {
    score: Vec<f32>,
    next: Vec<f32>,
    back: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path scored, the best kept (first in lexicographic order on
    /// ties, which is what first-maximum backtracking yields for distinct
    /// scores).
    fn brute(trans: &[f32], tags: usize, em: &[f32]) -> Vec<u8> {
        let t = em.len() / tags;
        let mut best: Option<(f32, Vec<u8>)> = None;
        for code in 0..tags.pow(t as u32) {
            let path: Vec<u8> = (0..t)
                .map(|i| ((code / tags.pow(i as u32)) % tags) as u8)
                .collect();
            let mut s = em[usize::from(path[0])];
            for i in 1..t {
                let (a, b) = (usize::from(path[i - 1]), usize::from(path[i]));
                s += trans[a * tags + b] + em[i * tags + b];
            }
            if best.as_ref().is_none_or(|(bs, _)| s > *bs) {
                best = Some((s, path));
            }
        }
        best.map(|(_, p)| p).unwrap_or_default()
    }

    #[test]
    fn viterbi_finds_the_best_path() {
        let tags = 3;
        let trans = [0.5, -1.0, 0.2, 0.1, 0.3, -2.0, -0.7, 1.1, 0.0];
        let mut seed = 7u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 9) as f32 / (1 << 23) as f32 * 4.0 - 2.0
        };
        let mut scratch = CrfScratch::default();
        let mut out = Vec::new();
        for t in 1..=6 {
            for _ in 0..20 {
                let em: Vec<f32> = (0..t * tags).map(|_| rnd()).collect();
                viterbi(&trans, tags, &em, &mut scratch, &mut out);
                assert_eq!(out, brute(&trans, tags, &em), "{em:?}");
            }
        }
        viterbi(&trans, tags, &[], &mut scratch, &mut out);
        assert!(out.is_empty());
    }
}
