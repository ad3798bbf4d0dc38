//! The planner: how many sequences of each pattern to build from the images available.
//!
//! Paper A chooses the number of sequences of each pattern by linear programming so that the
//! number of sequences is maximal given the images per class. occlab solves it as an **integer
//! program** (the pure-Rust microlp solver):
//!
//! ```text
//! maximise   Σ_p x_p
//! subject to Σ_p x_p · count[p][k] ≤ available[k]   for every class k
//!            0 ≤ x_p ≤ cap                            (cap: PlanOptions::cap, optional)
//!            P · x_p ≥ min_share · Σ_q x_q            (balance floor, PlanOptions::min_share)
//!            x_p integer
//! ```
//!
//! **Balance floor** (`min_share`, 0 by default): every pattern gets at least `min_share` times
//! the mean number of sequences per pattern. 0 = no floor (only the total counts), 0.5 = no pattern
//! gets less than half of an even share, 1 = all patterns equal. The floor binds only patterns
//! that can be built at all (a pattern needing more images of a class than exist is left out of
//! it, and gets 0).
//!
//! **Evening out** (`even`, on by default): the largest total usually has many optimal plans,
//! and a solver's vertex solution tends to give everything to a few patterns. With `even`, the
//! total is fixed at its maximum and two more stages pick, among the plans with that total, one
//! whose counts lie in a narrow band: first the smallest count (over buildable patterns) is made
//! as large as possible, then the largest count as small as possible. The total never drops for
//! evenness. Note that evenness cannot beat the images: for MNIST at T = 5 the largest total
//! needs the middle step-1 patterns (`1-2-3-4-5` … `4-5-6-7-8`) at 0, so the smallest count is 0
//! and only the other patterns are evened out; use `min_share` to trade total for variety.
//!
//! # How it is solved, and how optimality is proven
//! 1. **Total.** The LP relaxation bounds the total by ⌊LP⌋. *LP diving* (round the LP solution
//!    down, fix it as a lower bound, re-solve, add single sequences where the LP wants them when
//!    rounding gains nothing, fill greedily) gives a feasible plan; when it reaches ⌊LP⌋ it is
//!    optimal and no branch and bound runs. Otherwise microlp's branch and bound runs,
//!    warm-started with that plan and with the cut Σx ≤ ⌊LP⌋ (which removes no integer plan but
//!    lets the search stop once it is reached), for at most [`PlanOptions::node_limit`] nodes.
//!    [`Plan::optimal`] says whether the total is proven maximal; [`Plan::upper_bound`] is ⌊LP⌋.
//! 2. **Smallest count** m. Its LP bound; a binary search over m, each step diving with every
//!    buildable count ≥ m and checking that the total is still reached; branch and bound (cut at
//!    the bound, [`PlanOptions::even_node_limit`] nodes) only if the search ends below the bound.
//! 3. **Largest count** M, likewise (a binary search over the cap M).
//!
//! With a balance floor the diving heuristics are replaced by rounding plus greedy filling, and
//! stages 2 and 3 are left to branch and bound. Every plan returned is checked against the
//! constraints in exact integer arithmetic. Stages 2 and 3 are best-effort within their node
//! limit (the band may be a count wider than the best possible); stage 1 is exact whenever
//! `optimal` is true. Everything is deterministic: no randomness, microlp iterates in a fixed
//! order, and every search stops after a number of nodes, never after a time. (A time limit made
//! the plan depend on the machine's load: planned four times at once, the OCR letters' city names
//! came out in two different plans.)
//!
//! Over 600 lines: one integer program (its bound, branch and bound, the balance floor) and its
//! tests.

use std::time::{Duration, Instant};

use microlp::{
    ComparisonOp, Error as LpError, OptimizationDirection, Problem as Lp,
    SolutionStatus as LpStatus, SolveOptions, SolveOutcome, Variable as Var,
};

/// Options of the planner (see the module docs).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PlanOptions {
    /// At most this many sequences of any one pattern.
    pub cap: Option<u32>,
    /// Balance floor: every buildable pattern gets at least `min_share` × the mean count per
    /// pattern, in `0.0..=1.0`.
    pub min_share: f64,
    /// Among the plans with the largest total, pick the one with the narrowest band of counts.
    pub even: bool,
    /// Most branch-and-bound nodes for the total (stage 1). A node count, not a time, so that
    /// the plan does not depend on the machine or its load.
    pub node_limit: u64,
    /// Most branch-and-bound nodes of each evening-out stage.
    pub even_node_limit: u64,
}

/// Default node limit of stage 1 (the total).
pub const NODE_LIMIT: u64 = 20_000;
/// Default node limit of each evening-out stage.
pub const EVEN_NODE_LIMIT: u64 = 2_000;

impl Default for PlanOptions {
    /// No cap, no floor, evening out on; [`NODE_LIMIT`] nodes for the total, [`EVEN_NODE_LIMIT`]
    /// per evening-out stage.
    fn default() -> Self {
        PlanOptions {
            cap: None,
            min_share: 0.0,
            even: true,
            node_limit: NODE_LIMIT,
            even_node_limit: EVEN_NODE_LIMIT,
        }
    }
}

/// How many sequences of each pattern to build.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// Sequences per pattern.
    pub counts: Vec<u32>,
    /// Σ counts.
    pub total: u32,
    /// Images used per class.
    pub images_used: Vec<u32>,
    /// Upper bound on the total from the LP relaxation (⌊LP optimum⌋); `total == upper_bound`
    /// proves optimality.
    pub upper_bound: u32,
    /// True when the total is proven maximal (by the bound or by the solver).
    pub optimal: bool,
    /// Wall time of all solver stages.
    pub solve_time: Duration,
}

impl Plan {
    /// Share of the available images that the plan uses (0 when none are available).
    pub fn images_share(&self, available: &[u32]) -> f64 {
        let avail: u64 = available.iter().map(|&a| a as u64).sum();
        let used: u64 = self.images_used.iter().map(|&a| a as u64).sum();
        if avail == 0 {
            0.0
        } else {
            used as f64 / avail as f64
        }
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    /// Pattern count rows and available counts disagree on the number of classes.
    #[error("pattern {pattern} has counts for {got} classes, but {expected} classes are available")]
    Dimensions {
        /// 1-based pattern number.
        pattern: usize,
        /// Its number of counts.
        got: usize,
        /// The number of classes.
        expected: usize,
    },
    /// A pattern that uses no image could be repeated without end.
    #[error("pattern {pattern} uses no images, so its number of sequences is unbounded")]
    Unbounded {
        /// 1-based pattern number.
        pattern: usize,
    },
    /// Options out of range.
    #[error("plan options: {0}")]
    Options(String),
    /// The solver failed.
    #[error("solver: {0}")]
    Solver(String),
}

/// Plans the number of sequences per pattern. `counts[p][k]` is how many images of class k one
/// sequence of pattern p uses; `available[k]` how many images class k has.
pub fn plan(counts: &[Vec<u32>], available: &[u32], opts: &PlanOptions) -> Result<Plan, PlanError> {
    plan_among(counts, available, opts, None)
}

/// [`plan`] with only the patterns `allowed[p]` may use (the others get 0 and are left out of the
/// balance floor): e.g. a test split planned over the patterns its training split was given.
pub fn plan_among(
    counts: &[Vec<u32>],
    available: &[u32],
    opts: &PlanOptions,
    allowed: Option<&[bool]>,
) -> Result<Plan, PlanError> {
    let started = Instant::now();
    if let Some(a) = allowed
        && a.len() != counts.len()
    {
        return Err(PlanError::Options(format!(
            "{} patterns allowed or not, but there are {} patterns",
            a.len(),
            counts.len()
        )));
    }
    let allowed = |p: usize| allowed.is_none_or(|a| a[p]);
    check(counts, available, opts, &allowed)?;
    let mut problem = Problem::new(counts, available, opts);
    for (p, ub) in problem.ub.iter_mut().enumerate() {
        if !allowed(p) {
            *ub = 0;
        }
    }
    let zeros = vec![0u32; problem.np];
    let ub = problem.ub.clone();

    // Stage 1: the largest total. The LP bound, then a rounding heuristic; branch and bound only
    // when the heuristic falls short of the bound.
    let lp = problem
        .solve(Stage::Total, &zeros, &ub, false, None, None)?
        .ok_or_else(|| PlanError::Solver("the empty plan was found infeasible".into()))?;
    let bound = (lp.objective + 1e-6).floor().max(0.0) as u32;
    let mut best = problem.heuristic(&lp.values)?;
    let mut optimal = sum(&best) >= bound;
    if !optimal {
        // Every integer plan has total ≤ bound, so the cut removes none; it lets the search stop
        // as soon as a plan reaches the bound.
        let cut = Some(bound as f64);
        if let Some(ip) = problem.solve(Stage::Total, &zeros, &ub, true, Some(&best), cut)? {
            let x = problem.repair(round(&ip.values));
            if sum(&x) > sum(&best) && problem.feasible(&x) {
                best = x;
            }
            optimal = ip.optimal || sum(&best) >= bound;
        }
    }

    // Stages 2 and 3: the narrowest band of counts at that total.
    let active: Vec<usize> = (0..problem.np).filter(|&p| problem.ub[p] > 0).collect();
    if opts.even && active.len() > 1 && sum(&best) > 0 {
        best = problem.even_out(best, &active)?;
    }

    let images_used = problem.usage(&best);
    Ok(Plan {
        total: sum(&best),
        counts: best,
        images_used,
        upper_bound: bound,
        optimal,
        solve_time: started.elapsed(),
    })
}

fn check(
    counts: &[Vec<u32>],
    available: &[u32],
    opts: &PlanOptions,
    allowed: &impl Fn(usize) -> bool,
) -> Result<(), PlanError> {
    if !(0.0..=1.0).contains(&opts.min_share) {
        return Err(PlanError::Options(format!(
            "min_share {} is outside 0–1",
            opts.min_share
        )));
    }
    if opts.node_limit == 0 || opts.even_node_limit == 0 {
        return Err(PlanError::Options(
            "a node limit of the branch and bound is 0".into(),
        ));
    }
    for (p, row) in counts.iter().enumerate() {
        if row.len() != available.len() {
            return Err(PlanError::Dimensions {
                pattern: p + 1,
                got: row.len(),
                expected: available.len(),
            });
        }
        if opts.cap.is_none() && allowed(p) && row.iter().all(|&c| c == 0) {
            return Err(PlanError::Unbounded { pattern: p + 1 });
        }
    }
    Ok(())
}

fn sum(x: &[u32]) -> u32 {
    x.iter().sum()
}

fn round(values: &[f64]) -> Vec<u32> {
    values.iter().map(|v| v.round().max(0.0) as u32).collect()
}

fn min_over(x: &[u32], idx: &[usize]) -> u32 {
    idx.iter().map(|&p| x[p]).min().unwrap_or(0)
}

fn max_over(x: &[u32], idx: &[usize]) -> u32 {
    idx.iter().map(|&p| x[p]).max().unwrap_or(0)
}

/// Which objective a solver stage has.
#[derive(Clone, Copy)]
enum Stage {
    /// Maximise the total.
    Total,
    /// Total fixed; maximise the smallest count of a buildable pattern.
    RaiseMin { total: u32 },
    /// Total fixed, every buildable count ≥ floor; minimise the largest count.
    LowerMax { total: u32, floor: u32 },
}

/// A solver stage's result.
struct StageResult {
    values: Vec<f64>,
    objective: f64,
    optimal: bool,
}

/// The planning problem in integer form.
struct Problem<'a> {
    counts: &'a [Vec<u32>],
    available: &'a [u32],
    min_share: f64,
    node_limit: u64,
    even_node_limit: u64,
    np: usize,
    /// Upper bound per pattern: the cap and what each class allows on its own.
    ub: Vec<u32>,
}

impl<'a> Problem<'a> {
    fn new(counts: &'a [Vec<u32>], available: &'a [u32], opts: &PlanOptions) -> Self {
        let ub = counts
            .iter()
            .map(|row| {
                let by_class = row
                    .iter()
                    .zip(available)
                    .filter(|(c, _)| **c > 0)
                    .map(|(c, a)| a / c)
                    .min()
                    .unwrap_or(u32::MAX);
                by_class
                    .min(opts.cap.unwrap_or(u32::MAX))
                    .min(i32::MAX as u32)
            })
            .collect();
        Problem {
            counts,
            available,
            min_share: opts.min_share,
            node_limit: opts.node_limit,
            even_node_limit: opts.even_node_limit,
            np: counts.len(),
            ub,
        }
    }

    /// Images used per class by plan `x`.
    fn usage(&self, x: &[u32]) -> Vec<u32> {
        self.usage64(x)
            .into_iter()
            .map(|u| u.min(u32::MAX as u64) as u32)
            .collect()
    }

    fn usage64(&self, x: &[u32]) -> Vec<u64> {
        let mut used = vec![0u64; self.available.len()];
        for (row, &n) in self.counts.iter().zip(x) {
            for (u, &c) in used.iter_mut().zip(row) {
                *u += c as u64 * n as u64;
            }
        }
        used
    }

    /// Whether `x` fits the images and `lo ≤ x ≤ hi`, in exact integer arithmetic.
    fn fits(&self, x: &[u32], lo: &[u32], hi: &[u32]) -> bool {
        let images = self
            .usage64(x)
            .iter()
            .zip(self.available)
            .all(|(&u, &a)| u <= a as u64);
        images && (0..self.np).all(|p| lo[p] <= x[p] && x[p] <= hi[p])
    }

    /// Whether `x` meets every constraint of the problem.
    fn feasible(&self, x: &[u32]) -> bool {
        self.fits(x, &vec![0; self.np], &self.ub) && self.floor_ok(x)
    }

    /// The balance floor P·x_p ≥ min_share·Σx for every buildable pattern (tolerance for the
    /// floating-point share).
    fn floor_ok(&self, x: &[u32]) -> bool {
        if self.min_share == 0.0 {
            return true;
        }
        let total = sum(x) as f64;
        (0..self.np)
            .filter(|&p| self.ub[p] > 0)
            .all(|p| self.np as f64 * x[p] as f64 >= self.min_share * total - 1e-6)
    }

    /// A good feasible plan from the stage-1 LP solution `lp`: [`dive`](Self::dive) without a
    /// balance floor; with one, the LP solution rounded down and filled greedily.
    fn heuristic(&self, lp: &[f64]) -> Result<Vec<u32>, PlanError> {
        let zeros = vec![0u32; self.np];
        if self.min_share > 0.0 {
            let x = self.greedy_fill(self.round_down(lp, &zeros, &self.ub), &self.ub);
            return Ok(if self.feasible(&x) {
                x
            } else {
                self.greedy_fill(zeros, &self.ub)
            });
        }
        Ok(self
            .dive(&zeros, &self.ub, Some(lp.to_vec()))?
            .unwrap_or(zeros))
    }

    /// LP diving for the largest total within `lo ≤ x ≤ hi` (no balance floor): round the LP
    /// solution down, fix it as the new lower bound, re-solve, and repeat until the LP has no whole
    /// sequence left (adding single sequences where the LP wants them most when rounding gains
    /// nothing); then fill greedily. `first` is the LP solution at `lo`, if already known.
    /// `None` when `lo` itself does not fit.
    fn dive(
        &self,
        lo: &[u32],
        hi: &[u32],
        first: Option<Vec<f64>>,
    ) -> Result<Option<Vec<u32>>, PlanError> {
        if !self.fits(lo, lo, hi) {
            return Ok(None);
        }
        let mut values = match first {
            Some(v) => v,
            None => match self.solve(Stage::Total, lo, hi, false, None, None)? {
                Some(r) => r.values,
                None => return Ok(None),
            },
        };
        let mut x = lo.to_vec();
        for _ in 0..4 * self.np + 16 {
            let y = self.round_down(&values, &x, hi);
            if sum(&y) > sum(&x) && self.fits(&y, lo, hi) {
                x = y;
            } else {
                // Rounding gains nothing: add one sequence where the LP wants most.
                let mut order: Vec<usize> = (0..self.np).collect();
                order.sort_by(|&a, &b| {
                    let fa = values[a] - x[a] as f64;
                    let fb = values[b] - x[b] as f64;
                    fb.total_cmp(&fa).then(a.cmp(&b))
                });
                let bumped = order.into_iter().find(|&p| {
                    if values[p] - (x[p] as f64) < 1e-6 {
                        return false;
                    }
                    let mut z = x.clone();
                    z[p] += 1;
                    self.fits(&z, lo, hi)
                });
                match bumped {
                    Some(p) => x[p] += 1,
                    None => break,
                }
            }
            match self.solve(Stage::Total, &x, hi, false, None, None)? {
                Some(r) if r.objective - (sum(&x) as f64) >= 1.0 - 1e-6 => values = r.values,
                _ => break,
            }
        }
        Ok(Some(self.greedy_fill(x, hi)))
    }

    /// LP values rounded down and clamped to `lo..=hi` (values within 1e-7 of an integer count as
    /// that integer when the result still fits).
    fn round_down(&self, values: &[f64], lo: &[u32], hi: &[u32]) -> Vec<u32> {
        let clamp = |v: f64, p: usize| (v.max(0.0) as u32).clamp(lo[p], hi[p].max(lo[p]));
        let snapped: Vec<u32> = values
            .iter()
            .enumerate()
            .map(|(p, v)| clamp((v + 1e-7).floor(), p))
            .collect();
        if self.fits(&snapped, lo, hi) {
            snapped
        } else {
            values
                .iter()
                .enumerate()
                .map(|(p, v)| clamp(v.floor(), p))
                .collect()
        }
    }

    /// Adds sequences one at a time, always to the pattern with the fewest so far that still
    /// fits (images, `hi`, balance floor).
    fn greedy_fill(&self, mut x: Vec<u32>, hi: &[u32]) -> Vec<u32> {
        let mut rem: Vec<i64> = self.available.iter().map(|&a| a as i64).collect();
        for (r, u) in rem.iter_mut().zip(self.usage64(&x)) {
            *r -= u as i64;
        }
        if rem.iter().any(|&r| r < 0) || !self.floor_ok(&x) {
            return x;
        }
        let mut blocked = vec![false; self.np];
        loop {
            let pick = (0..self.np)
                .filter(|&p| !blocked[p] && x[p] < hi[p])
                .min_by_key(|&p| (x[p], p));
            let Some(p) = pick else { break };
            let fits = self.counts[p]
                .iter()
                .zip(&rem)
                .all(|(&c, &r)| c as i64 <= r);
            if !fits {
                blocked[p] = true;
                continue;
            }
            x[p] += 1;
            if !self.floor_ok(&x) {
                x[p] -= 1;
                blocked[p] = true;
                continue;
            }
            for (r, &c) in rem.iter_mut().zip(&self.counts[p]) {
                *r -= c as i64;
            }
        }
        x
    }

    /// Makes a solver's rounded answer fit (it always does, up to floating-point noise): removes
    /// sequences of the largest pattern touching an over-used class.
    fn repair(&self, mut x: Vec<u32>) -> Vec<u32> {
        for (v, &u) in x.iter_mut().zip(&self.ub) {
            *v = (*v).min(u);
        }
        loop {
            let used = self.usage64(&x);
            let Some(k) = (0..self.available.len()).find(|&k| used[k] > self.available[k] as u64)
            else {
                break;
            };
            let p = (0..self.np)
                .filter(|&p| self.counts[p][k] > 0 && x[p] > 0)
                .max_by_key(|&p| x[p])
                .expect("an over-used class has a pattern using it");
            x[p] -= 1;
        }
        x
    }

    /// Removes sequences from the largest counts above `lo` until the total is `total`.
    fn trim(&self, mut x: Vec<u32>, total: u32, lo: &[u32]) -> Vec<u32> {
        while sum(&x) > total {
            let Some(p) = (0..self.np)
                .filter(|&p| x[p] > lo[p])
                .max_by_key(|&p| (x[p], std::cmp::Reverse(p)))
            else {
                break;
            };
            x[p] -= 1;
        }
        x
    }

    /// Evening out: [`narrow_band`](Self::narrow_band), then patterns that use exactly the same
    /// images (a progression and its reverse) share their combined count evenly (lower indices
    /// get the remainder). Sharing keeps the total and every constraint, and never widens the band.
    fn even_out(&self, best: Vec<u32>, active: &[usize]) -> Result<Vec<u32>, PlanError> {
        let mut x = self.narrow_band(best, active)?;
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for p in 0..self.np {
            match groups
                .iter_mut()
                .find(|g| self.counts[g[0]] == self.counts[p])
            {
                Some(g) => g.push(p),
                None => groups.push(vec![p]),
            }
        }
        for g in groups.iter().filter(|g| g.len() > 1) {
            let n = g.len() as u32;
            let s: u32 = g.iter().map(|&p| x[p]).sum();
            let mut y = x.clone();
            for (i, &p) in g.iter().enumerate() {
                y[p] = s / n + u32::from((i as u32) < s % n);
            }
            if self.feasible(&y) {
                x = y;
            }
        }
        Ok(x)
    }

    /// Stages 2 and 3 on a plan `best` with the largest total: raise the smallest count of the
    /// `active` patterns, then lower the largest, keeping the total.
    fn narrow_band(&self, mut best: Vec<u32>, active: &[usize]) -> Result<Vec<u32>, PlanError> {
        let total = sum(&best);
        let zeros = vec![0u32; self.np];
        let at = |value: u32| -> Vec<u32> {
            let mut v = vec![0u32; self.np];
            for &p in active {
                v[p] = value;
            }
            v
        };

        // Stage 2: the largest smallest count m. The LP bounds m; without a balance floor, a
        // binary search over m with the diving heuristic (lower bounds m) finds a good m fast.
        let stage = Stage::RaiseMin { total };
        let Some(lp) = self.solve(stage, &zeros, &self.ub, false, None, None)? else {
            return Ok(best);
        };
        let m_bound = (lp.objective + 1e-6).floor().max(0.0) as u32;
        if self.min_share == 0.0 {
            let (mut lo_m, mut hi_m) = (min_over(&best, active), m_bound);
            while lo_m < hi_m {
                let mid = lo_m + (hi_m - lo_m).div_ceil(2);
                let lo = at(mid);
                match self.dive(&lo, &self.ub, None)? {
                    Some(x) if sum(&x) >= total => {
                        best = self.trim(x, total, &lo);
                        lo_m = mid;
                    }
                    _ => hi_m = mid - 1,
                }
            }
        }
        if min_over(&best, active) < m_bound {
            best = self.improve(stage, best, m_bound, |x, best| {
                min_over(x, active) > min_over(best, active)
            })?;
        }

        // Stage 3: the smallest largest count M, every count staying ≥ m.
        let floor = min_over(&best, active);
        let stage = Stage::LowerMax { total, floor };
        let Some(lp) = self.solve(stage, &zeros, &self.ub, false, None, None)? else {
            return Ok(best);
        };
        let big_bound = (lp.objective - 1e-6).ceil().max(0.0) as u32;
        if self.min_share == 0.0 {
            let lo = at(floor);
            let (mut lo_m, mut hi_m) = (big_bound, max_over(&best, active));
            while lo_m < hi_m {
                let mid = lo_m + (hi_m - lo_m) / 2;
                let hi: Vec<u32> = self.ub.iter().map(|&u| u.min(mid)).collect();
                match self.dive(&lo, &hi, None)? {
                    Some(x) if sum(&x) >= total => {
                        best = self.trim(x, total, &lo);
                        hi_m = mid;
                    }
                    _ => lo_m = mid + 1,
                }
            }
        }
        if max_over(&best, active) > big_bound {
            best = self.improve(stage, best, big_bound, |x, best| {
                min_over(x, active) >= floor && max_over(x, active) < max_over(best, active)
            })?;
        }
        Ok(best)
    }

    /// The integer program of `stage` started from the incumbent `best`, its objective bounded
    /// by `bound`: its solution (repaired) when it keeps `best`'s total, is feasible and
    /// `better(solution, best)`; else `best`.
    fn improve(
        &self,
        stage: Stage,
        best: Vec<u32>,
        bound: u32,
        better: impl Fn(&[u32], &[u32]) -> bool,
    ) -> Result<Vec<u32>, PlanError> {
        let zeros = vec![0u32; self.np];
        let solved = self.solve(
            stage,
            &zeros,
            &self.ub,
            true,
            Some(&best),
            Some(bound as f64),
        )?;
        if let Some(ip) = solved {
            let x = self.repair(round(&ip.values));
            if sum(&x) == sum(&best) && self.feasible(&x) && better(&x, &best) {
                return Ok(x);
            }
        }
        Ok(best)
    }

    /// Builds and solves one stage with `lo ≤ x ≤ hi`; `integer` false gives the LP relaxation.
    /// `start` warm-starts the search; `cut` bounds the objective (≤ when maximising, ≥ when
    /// minimising). `None` when the stage is infeasible. The branch and bound stops after a
    /// number of nodes, never after a time, so the plan is the same on any machine under any
    /// load.
    fn solve(
        &self,
        stage: Stage,
        lo: &[u32],
        hi: &[u32],
        integer: bool,
        start: Option<&[u32]>,
        cut: Option<f64>,
    ) -> Result<Option<StageResult>, PlanError> {
        if (0..self.np).any(|p| lo[p] > hi[p]) {
            return Ok(None);
        }
        let direction = match stage {
            Stage::LowerMax { .. } => OptimizationDirection::Minimize,
            _ => OptimizationDirection::Maximize,
        };
        let mut lp = Lp::new(direction);
        let on_total = if matches!(stage, Stage::Total) {
            1.0
        } else {
            0.0
        };
        let xs: Vec<Var> = (0..self.np)
            .map(|p| {
                if integer {
                    lp.add_integer_var(on_total, (to_i32(lo[p]), to_i32(hi[p])))
                } else {
                    lp.add_var(on_total, (lo[p] as f64, hi[p] as f64))
                }
            })
            .collect();
        // The auxiliary variable of stages 2 and 3 (smallest / largest count): the objective.
        let aux = match stage {
            Stage::Total => None,
            _ => Some(lp.add_var(1.0, (0.0, i32::MAX as f64))),
        };
        let active: Vec<usize> = (0..self.np).filter(|&p| self.ub[p] > 0).collect();
        let total = || xs.iter().map(|&v| (v, 1.0)).collect::<Vec<_>>();
        for (k, &avail) in self.available.iter().enumerate() {
            let used: Vec<(Var, f64)> = xs
                .iter()
                .zip(self.counts)
                .filter(|(_, row)| row[k] > 0)
                .map(|(&v, row)| (v, row[k] as f64))
                .collect();
            if !used.is_empty() {
                lp.add_constraint(used, ComparisonOp::Le, avail as f64);
            }
        }
        if self.min_share > 0.0 {
            // P·x_p − min_share·Σx ≥ 0
            for &p in &active {
                let mut terms: Vec<(Var, f64)> = xs.iter().map(|&v| (v, -self.min_share)).collect();
                terms[p].1 += self.np as f64;
                lp.add_constraint(terms, ComparisonOp::Ge, 0.0);
            }
        }
        match (stage, aux) {
            (Stage::RaiseMin { total: n }, Some(a)) => {
                lp.add_constraint(total(), ComparisonOp::Eq, n as f64);
                for &p in &active {
                    lp.add_constraint([(xs[p], 1.0), (a, -1.0)], ComparisonOp::Ge, 0.0);
                }
                if let Some(c) = cut {
                    lp.add_constraint([(a, 1.0)], ComparisonOp::Le, c);
                }
            }
            (Stage::LowerMax { total: n, floor }, Some(a)) => {
                lp.add_constraint(total(), ComparisonOp::Eq, n as f64);
                for &p in &active {
                    lp.add_constraint([(xs[p], 1.0)], ComparisonOp::Ge, floor as f64);
                    lp.add_constraint([(a, 1.0), (xs[p], -1.0)], ComparisonOp::Ge, 0.0);
                }
                if let Some(c) = cut {
                    lp.add_constraint([(a, 1.0)], ComparisonOp::Ge, c);
                }
            }
            _ => {
                if let Some(c) = cut {
                    lp.add_constraint(total(), ComparisonOp::Le, c);
                }
            }
        }
        let mut options = SolveOptions::default();
        if integer {
            options.node_limit = Some(match stage {
                Stage::Total => self.node_limit,
                _ => self.even_node_limit,
            });
            if let Some(x) = start {
                let mut init: Vec<(Var, f64)> =
                    xs.iter().zip(x).map(|(&v, &n)| (v, n as f64)).collect();
                if let Some(a) = aux {
                    let val = match stage {
                        Stage::RaiseMin { .. } => min_over(x, &active),
                        _ => max_over(x, &active),
                    };
                    init.push((a, val as f64));
                }
                options.warm_start = Some(init);
            }
        }
        let solution = match lp.solve_with(options) {
            Ok(SolveOutcome::Solution(s)) => s,
            // The node limit came before any plan: none from this stage.
            Ok(SolveOutcome::Interrupted(_)) => return Ok(None),
            Err(LpError::Infeasible) => return Ok(None),
            Err(e) => return Err(PlanError::Solver(e.to_string())),
        };
        let values: Vec<f64> = xs.iter().map(|&v| solution.var_value(v)).collect();
        let objective = match aux {
            Some(a) => solution.var_value(a),
            None => values.iter().sum(),
        };
        Ok(Some(StageResult {
            values,
            objective,
            optimal: matches!(solution.status(), LpStatus::Optimal),
        }))
    }
}

/// A count as a bound of an integer variable (counts never come near `i32::MAX`).
fn to_i32(n: u32) -> i32 {
    n.min(i32::MAX as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_patterns_share_a_class() {
        // p0 uses class 0 twice, p1 uses classes 0 and 1; class 0 has 5, class 1 has 2.
        let counts = vec![vec![2, 0], vec![1, 1]];
        let plan = plan(&counts, &[5, 2], &PlanOptions::default()).unwrap();
        assert_eq!(plan.total, 3);
        assert!(plan.optimal);
    }
}
