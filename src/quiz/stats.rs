//! The statistics of the quiz analysis: Wilson score intervals for accuracies and McNemar's test
//! for paired right/wrong outcomes (a person and a model on the same images).

/// z of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Below this many discordant pairs the exact binomial McNemar test is the one reported as
/// primary; from it on, the chi-square test with continuity correction.
pub const EXACT_BELOW: u64 = 25;

/// The Wilson score interval of `correct` successes in `total` trials at normal quantile `z`:
/// `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`. `None` when `total` is 0.
pub fn wilson(correct: u64, total: u64, z: f64) -> Option<(f64, f64)> {
    if total == 0 {
        return None;
    }
    let n = total as f64;
    let p = correct.min(total) as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denom = 1.0 + z2 / n;
    Some((
        ((centre - half) / denom).max(0.0),
        ((centre + half) / denom).min(1.0),
    ))
}

/// Which McNemar test is the primary one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McNemarMethod {
    /// Exact two-sided binomial test on the discordant pairs (b + c < [`EXACT_BELOW`]).
    ExactBinomial,
    /// χ² with Edwards' continuity correction, 1 degree of freedom.
    ChiSquareCorrected,
}

/// McNemar's test on paired outcomes.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McNemar {
    /// Pairs counted.
    pub pairs: u64,
    /// Both right.
    pub both_right: u64,
    /// b: the first (a person) right, the second (a model) wrong.
    pub only_first: u64,
    /// c: the first wrong, the second right.
    pub only_second: u64,
    /// Both wrong.
    pub both_wrong: u64,
    /// (|b − c| − 1)² / (b + c); `None` without discordant pairs.
    pub chi_square: Option<f64>,
    /// Its p-value (χ², 1 df).
    pub p_chi_square: Option<f64>,
    /// Exact two-sided p: min(1, 2·P(X ≤ min(b, c))), X ~ Binomial(b + c, ½); 1 without
    /// discordant pairs.
    pub p_exact: f64,
    /// Which of the two is reported as primary.
    pub method: McNemarMethod,
}

impl McNemar {
    /// The test from paired outcomes `(first right, second right)`.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (bool, bool)>) -> Self {
        let mut n = [[0u64; 2]; 2];
        for (a, b) in pairs {
            n[a as usize][b as usize] += 1;
        }
        Self::from_counts(n[1][1], n[1][0], n[0][1], n[0][0])
    }

    /// The test from the four cells of the paired table.
    pub fn from_counts(
        both_right: u64,
        only_first: u64,
        only_second: u64,
        both_wrong: u64,
    ) -> Self {
        let (b, c) = (only_first, only_second);
        let d = b + c;
        let chi_square = (d > 0).then(|| {
            let diff = (b as f64 - c as f64).abs() - 1.0;
            diff.max(0.0).powi(2) / d as f64
        });
        McNemar {
            pairs: both_right + b + c + both_wrong,
            both_right,
            only_first: b,
            only_second: c,
            both_wrong,
            chi_square,
            p_chi_square: chi_square.map(chi_square_1df_p),
            p_exact: exact_binomial_two_sided(b.min(c), d),
            method: if d < EXACT_BELOW {
                McNemarMethod::ExactBinomial
            } else {
                McNemarMethod::ChiSquareCorrected
            },
        }
    }

    /// The primary p-value.
    pub fn p(&self) -> f64 {
        match self.method {
            McNemarMethod::ExactBinomial => self.p_exact,
            McNemarMethod::ChiSquareCorrected => self.p_chi_square.unwrap_or(1.0),
        }
    }
}

/// min(1, 2·P(X ≤ k)) for X ~ Binomial(n, ½); 1 when n = 0.
pub fn exact_binomial_two_sided(k: u64, n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose - ln2n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Upper tail of the χ² distribution with one degree of freedom: erfc(√(x/2)).
pub fn chi_square_1df_p(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    erfc((x / 2.0).sqrt())
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error below
/// 1.2·10⁻⁷ everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), Table I: 81/263 → 0.2553–0.3662; 15/148 → 0.0624–0.1605.
        let (lo, hi) = wilson(81, 263, Z95).unwrap();
        assert!(
            (lo - 0.2553).abs() < 5e-5 && (hi - 0.3662).abs() < 5e-5,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(15, 148, Z95).unwrap();
        assert!(
            (lo - 0.0624).abs() < 5e-5 && (hi - 0.1605).abs() < 5e-5,
            "{lo} {hi}"
        );
        // 0/20 → 0–0.1611; all right stays below 1.
        let (lo, hi) = wilson(0, 20, Z95).unwrap();
        assert!(lo == 0.0 && (hi - 0.1611).abs() < 5e-5, "{hi}");
        assert!(wilson(20, 20, Z95).unwrap().0 < 1.0);
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn mcnemar_exact_and_chi_square() {
        // b = 1, c = 6: exact p = 2·(1 + 7)/128 = 0.125; χ² = (5 − 1)²/7.
        let m = McNemar::from_counts(10, 1, 6, 3);
        assert_eq!(m.pairs, 20);
        assert!((m.p_exact - 0.125).abs() < 1e-12);
        assert!((m.chi_square.unwrap() - 16.0 / 7.0).abs() < 1e-12);
        assert_eq!(m.method, McNemarMethod::ExactBinomial);
        assert_eq!(m.p(), m.p_exact);
        // χ² = 3.841459 is the 95 % point of χ²(1).
        assert!((chi_square_1df_p(3.841_459) - 0.05).abs() < 1e-6);
        assert!((erfc(0.5) - 0.479_500_122_186_953_5).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_792_949_715).abs() < 1e-7);
        // No discordant pairs: nothing to test.
        let m = McNemar::from_counts(5, 0, 0, 5);
        assert_eq!(m.chi_square, None);
        assert_eq!(m.p_exact, 1.0);
        // Large counts use the χ² test.
        let m = McNemar::from_pairs(
            std::iter::repeat_n((true, false), 40).chain(std::iter::repeat_n((false, true), 20)),
        );
        assert_eq!((m.only_first, m.only_second), (40, 20));
        assert_eq!(m.method, McNemarMethod::ChiSquareCorrected);
        assert!((m.chi_square.unwrap() - 361.0 / 60.0).abs() < 1e-12);
    }
}
