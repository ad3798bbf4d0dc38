//! The planner: how many sequences of each pattern to build from the images available.
//!
//! Paper A chooses the number of sequences of each pattern by linear programming so that the
//! number of sequences is maximal given the images per class. occlab solves it as an **integer
//! program** (good_lp with the pure-Rust microlp solver):
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
//! total is fixed at its maximum and two more integer programs pick, among all plans with that
//! total, the one whose counts lie in the narrowest band: first the smallest count (over
//! buildable patterns) is made as large as possible, then the largest count as small as possible.
//! The total never drops for evenness.
//!
//! **Proof of optimality.** The LP relaxation gives an upper bound ⌊LP⌋ on the total. Its
//! solution, rounded down and filled up greedily, is a feasible plan; when it reaches ⌊LP⌋ it is
//! optimal and no branch-and-bound runs. Otherwise the integer program runs (warm-started with the
//! greedy plan) and [`Plan::optimal`] says whether the solver proved optimality within
//! [`PlanOptions::time_limit_s`]. Every plan returned is checked against the constraints in
//! integer arithmetic.

use std::time::{Duration, Instant};

use good_lp::solvers::{Solution, SolutionStatus, SolverModel, WithInitialSolution, WithTimeLimit};
use good_lp::{Expression, ProblemVariables, ResolutionError, Variable, microlp, variable};

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
    /// Time limit of each integer-program stage, in seconds.
    pub time_limit_s: f64,
}

impl Default for PlanOptions {
    /// No cap, no floor, evening out on, 10 s per stage.
    fn default() -> Self {
        PlanOptions {
            cap: None,
            min_share: 0.0,
            even: true,
            time_limit_s: 10.0,
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
    let started = Instant::now();
    check(counts, available, opts)?;
    let problem = Problem::new(counts, available, opts);
    let zeros = vec![0u32; problem.np];

    // Stage 1: the largest total. The LP bound, then a rounding heuristic; branch and bound only
    // when the heuristic falls short of the bound.
    let lp = problem
        .solve(Stage::Total, &zeros, false, None, None)?
        .ok_or_else(|| PlanError::Solver("the empty plan was found infeasible".into()))?;
    let bound = (lp.objective + 1e-6).floor().max(0.0) as u32;
    let mut best = problem.heuristic(&lp.values)?;
    let mut optimal = sum(&best) >= bound;
    if !optimal {
        // Every integer plan has total ≤ bound, so the cut removes none; it lets the search stop
        // as soon as a plan reaches the bound.
        let cut = Some(bound as f64);
        if let Some(ip) = problem.solve(Stage::Total, &zeros, true, Some(&best), cut)? {
            let x = problem.repair(round(&ip.values));
            if sum(&x) > sum(&best) {
                best = x;
            }
            optimal = ip.optimal || sum(&best) >= bound;
        }
    }

    // Stages 2 and 3: the narrowest band of counts at that total.
    let active: Vec<usize> = (0..problem.np).filter(|&p| problem.ub[p] > 0).collect();
    let total = sum(&best);
    if opts.even && active.len() > 1 && total > 0 {
        best = problem.even_out(best, total, &active)?;
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

fn check(counts: &[Vec<u32>], available: &[u32], opts: &PlanOptions) -> Result<(), PlanError> {
    if !(0.0..=1.0).contains(&opts.min_share) {
        return Err(PlanError::Options(format!(
            "min_share {} is outside 0–1",
            opts.min_share
        )));
    }
    if !(opts.time_limit_s > 0.0 && opts.time_limit_s.is_finite()) {
        return Err(PlanError::Options(format!(
            "time limit {} s is not a positive number",
            opts.time_limit_s
        )));
    }
    for (p, row) in counts.iter().enumerate() {
        if row.len() != available.len() {
            return Err(PlanError::Dimensions {
                pattern: p + 1,
                got: row.len(),
                expected: available.len(),
            });
        }
        if opts.cap.is_none() && row.iter().all(|&c| c == 0) {
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
    time_limit_s: f64,
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
            time_limit_s: opts.time_limit_s,
            np: counts.len(),
            ub,
        }
    }

    /// Images used per class by plan `x`.
    fn usage(&self, x: &[u32]) -> Vec<u32> {
        let mut used = vec![0u64; self.available.len()];
        for (row, &n) in self.counts.iter().zip(x) {
            for (u, &c) in used.iter_mut().zip(row) {
                *u += c as u64 * n as u64;
            }
        }
        used.into_iter()
            .map(|u| u.min(u32::MAX as u64) as u32)
            .collect()
    }

    /// Whether `x` meets every constraint, in exact integer arithmetic.
    fn feasible(&self, x: &[u32]) -> bool {
        let mut used = vec![0u64; self.available.len()];
        for (row, &n) in self.counts.iter().zip(x) {
            for (u, &c) in used.iter_mut().zip(row) {
                *u += c as u64 * n as u64;
            }
        }
        let fits = used
            .iter()
            .zip(self.available)
            .all(|(&u, &a)| u <= a as u64);
        let bounded = x.iter().zip(&self.ub).all(|(v, u)| v <= u);
        fits && bounded && self.floor_ok(x)
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

    /// A good feasible plan from the LP solution `lp`. Without a balance floor: LP diving (round
    /// down, fix as lower bounds, re-solve, until no whole sequence is left), then greedy filling.
    /// With a floor: the LP solution rounded down and filled greedily.
    fn heuristic(&self, lp: &[f64]) -> Result<Vec<u32>, PlanError> {
        let zeros = vec![0u32; self.np];
        if self.min_share > 0.0 {
            let x = self.greedy_fill(self.round_down(lp));
            return Ok(if self.feasible(&x) {
                x
            } else {
                self.greedy_fill(zeros)
            });
        }
        let mut x = self.round_down(lp);
        if !self.feasible(&x) {
            x = zeros;
        }
        let mut values = lp.to_vec();
        for _ in 0..4 * self.np + 16 {
            let y = self.round_down(&values);
            if sum(&y) > sum(&x) && self.feasible(&y) && y.iter().zip(&x).all(|(a, b)| a >= b) {
                x = y;
            } else {
                // No whole sequence left in the rounding: add one where the LP wants most.
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
                    self.feasible(&z)
                });
                match bumped {
                    Some(p) => x[p] += 1,
                    None => break,
                }
            }
            match self.solve(Stage::Total, &x, false, None, None)? {
                Some(r) if r.objective - (sum(&x) as f64) >= 1.0 - 1e-6 => values = r.values,
                _ => break,
            }
        }
        Ok(self.greedy_fill(x))
    }

    /// LP values rounded down (values within 1e-7 of an integer count as that integer, if the
    /// result stays feasible).
    fn round_down(&self, values: &[f64]) -> Vec<u32> {
        let snapped: Vec<u32> = values
            .iter()
            .map(|v| (v + 1e-7).floor().max(0.0) as u32)
            .collect();
        if self.feasible(&snapped) {
            snapped
        } else {
            values.iter().map(|v| v.floor().max(0.0) as u32).collect()
        }
    }

    /// Adds sequences one at a time, always to the pattern with the fewest so far that still
    /// fits, while the plan stays feasible.
    fn greedy_fill(&self, mut x: Vec<u32>) -> Vec<u32> {
        if !self.feasible(&x) {
            return x;
        }
        let mut rem: Vec<i64> = self.available.iter().map(|&a| a as i64).collect();
        for (row, &n) in self.counts.iter().zip(&x) {
            for (r, &c) in rem.iter_mut().zip(row) {
                *r -= c as i64 * n as i64;
            }
        }
        let mut blocked = vec![false; self.np];
        loop {
            let pick = (0..self.np)
                .filter(|&p| !blocked[p] && x[p] < self.ub[p])
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

    /// Makes a solver's rounded answer feasible (it always is, up to floating-point noise):
    /// removes sequences of the largest pattern touching an over-used class.
    fn repair(&self, mut x: Vec<u32>) -> Vec<u32> {
        for (v, &u) in x.iter_mut().zip(&self.ub) {
            *v = (*v).min(u);
        }
        loop {
            let used = self.usage(&x);
            let Some(k) = (0..self.available.len()).find(|&k| used[k] > self.available[k]) else {
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

    /// Stages 2 and 3 on a plan `best` with the maximal `total`: raise the smallest count of the
    /// `active` patterns, then lower the largest. Each stage: LP bound, then branch and bound
    /// (warm-started with the current plan, cut at the bound) only if the plan misses the bound.
    fn even_out(
        &self,
        mut best: Vec<u32>,
        total: u32,
        active: &[usize],
    ) -> Result<Vec<u32>, PlanError> {
        let zeros = vec![0u32; self.np];
        let stage = Stage::RaiseMin { total };
        if let Some(lp) = self.solve(stage, &zeros, false, None, None)? {
            let bound = (lp.objective + 1e-6).floor();
            if (min_over(&best, active) as f64) < bound
                && let Some(ip) = self.solve(stage, &zeros, true, Some(&best), Some(bound))?
            {
                let x = self.repair(round(&ip.values));
                if sum(&x) == total
                    && self.feasible(&x)
                    && min_over(&x, active) > min_over(&best, active)
                {
                    best = x;
                }
            }
        }
        let floor = min_over(&best, active);
        let stage = Stage::LowerMax { total, floor };
        if let Some(lp) = self.solve(stage, &zeros, false, None, None)? {
            let bound = (lp.objective - 1e-6).ceil();
            if (max_over(&best, active) as f64) > bound
                && let Some(ip) = self.solve(stage, &zeros, true, Some(&best), Some(bound))?
            {
                let x = self.repair(round(&ip.values));
                if sum(&x) == total
                    && self.feasible(&x)
                    && min_over(&x, active) >= floor
                    && max_over(&x, active) < max_over(&best, active)
                {
                    best = x;
                }
            }
        }
        Ok(best)
    }

    /// Builds and solves one stage with `lo ≤ x ≤ ub`; `integer` false gives the LP relaxation.
    /// `start` warm-starts the search; `cut` bounds the objective (≤ for maximising, ≥ for
    /// minimising). `None` when the stage is infeasible.
    fn solve(
        &self,
        stage: Stage,
        lo: &[u32],
        integer: bool,
        start: Option<&[u32]>,
        cut: Option<f64>,
    ) -> Result<Option<StageResult>, PlanError> {
        let mut vars = ProblemVariables::new();
        let xs: Vec<Variable> = self
            .ub
            .iter()
            .zip(lo)
            .map(|(&u, &l)| {
                let def = variable().min(l.min(u) as f64).max(u as f64);
                vars.add(if integer { def.integer() } else { def })
            })
            .collect();
        let total: Expression = xs.iter().sum();
        // The auxiliary variable of stages 2 and 3 (smallest / largest count).
        let aux = match stage {
            Stage::Total => None,
            _ => Some(vars.add(variable().min(0).max(i32::MAX as f64))),
        };
        let active: Vec<usize> = (0..self.np).filter(|&p| self.ub[p] > 0).collect();
        let unsolved = match (stage, aux) {
            (Stage::RaiseMin { .. }, Some(a)) => vars.maximise(a),
            (Stage::LowerMax { .. }, Some(a)) => vars.minimise(a),
            _ => vars.maximise(total.clone()),
        };
        let mut model = unsolved.using(microlp);
        if integer {
            model = model.with_time_limit(self.time_limit_s);
        }
        if let Some(x) = start.filter(|_| integer) {
            let mut init: Vec<(Variable, f64)> =
                xs.iter().zip(x).map(|(&v, &n)| (v, n as f64)).collect();
            if let Some(a) = aux {
                let val = match stage {
                    Stage::RaiseMin { .. } => min_over(x, &active),
                    _ => max_over(x, &active),
                };
                init.push((a, val as f64));
            }
            model = model.with_initial_solution(init);
        }
        for (k, &avail) in self.available.iter().enumerate() {
            let used: Expression = xs
                .iter()
                .zip(self.counts)
                .filter(|(_, row)| row[k] > 0)
                .map(|(&v, row)| row[k] as f64 * v)
                .sum();
            model = model.with(used.leq(avail as f64));
        }
        if self.min_share > 0.0 {
            for &p in &active {
                let lhs = self.np as f64 * xs[p];
                model = model.with(lhs.geq(self.min_share * total.clone()));
            }
        }
        match (stage, aux) {
            (Stage::RaiseMin { total: n }, Some(a)) => {
                model = model.with(total.clone().eq(n as f64));
                for &p in &active {
                    model = model.with((xs[p] - a).geq(0.0));
                }
                if let Some(c) = cut {
                    model = model.with(Expression::from(a).leq(c));
                }
            }
            (Stage::LowerMax { total: n, floor }, Some(a)) => {
                model = model.with(total.clone().eq(n as f64));
                for &p in &active {
                    model = model.with(Expression::from(xs[p]).geq(floor as f64));
                    model = model.with((a - xs[p]).geq(0.0));
                }
                if let Some(c) = cut {
                    model = model.with(Expression::from(a).geq(c));
                }
            }
            _ => {
                if let Some(c) = cut {
                    model = model.with(total.clone().leq(c));
                }
            }
        }
        let solution = match model.solve() {
            Ok(s) => s,
            Err(ResolutionError::Infeasible) => return Ok(None),
            Err(e) => return Err(PlanError::Solver(e.to_string())),
        };
        let values: Vec<f64> = xs.iter().map(|&v| solution.value(v)).collect();
        let objective = match aux {
            Some(a) => solution.value(a),
            None => values.iter().sum(),
        };
        Ok(Some(StageResult {
            values,
            objective,
            optimal: matches!(solution.status(), SolutionStatus::Optimal),
        }))
    }
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

    use crate::sequence::patterns::*;
    #[test]
    fn zz_timing() {
        let digits = digit_symbols();
        let letters: Vec<String> = (b'A'..=b'Z').map(|c| (c as char).to_string()).collect();
        let tr = [
            5923u32, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
        ];
        let te = [980u32, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
        let all = [
            6903u32, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958,
        ];
        for share in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let lib = PatternLibrary::digits(&ProgressionOptions::with_t(5)).unwrap();
            let c = lib.class_counts(&digits).unwrap();
            let o = PlanOptions {
                min_share: share,
                ..Default::default()
            };
            let p = plan(&c, &all, &o).unwrap();
            println!(
                "MNIST all share {share}: total {} bound {} opt {} {:?} {:?}",
                p.total, p.upper_bound, p.optimal, p.solve_time, p.counts
            );
        }
        for t in [5usize, 10, 15, 20, 25, 30] {
            let lib = PatternLibrary::digits(&ProgressionOptions::with_t(t)).unwrap();
            let c = lib.class_counts(&digits).unwrap();
            for (nm, av) in [
                ("mnist-train", &tr[..]),
                ("mnist-test", &te[..]),
                ("mnist-all", &all[..]),
                ("cifar-train", &[5000u32; 10][..]),
                ("cifar-test", &[1000u32; 10][..]),
            ] {
                let p = plan(&c, av, &PlanOptions::default()).unwrap();
                println!(
                    "digits T={t} {nm}: total {} bound {} opt {} {:?}",
                    p.total, p.upper_bound, p.optimal, p.solve_time
                );
            }
        }
        for t in [6usize, 12, 18, 24, 30] {
            let lib = PatternLibrary::cities_for_length(t).unwrap();
            let c = lib.class_counts(&letters).unwrap();
            for (nm, av) in [
                ("train", 4800u32),
                ("test", 800),
                ("all", 5600),
                ("small", 200),
            ] {
                let p = plan(&c, &[av; 26], &PlanOptions::default()).unwrap();
                println!(
                    "cities T={t} {nm}: total {} bound {} opt {} {:?} used {}",
                    p.total,
                    p.upper_bound,
                    p.optimal,
                    p.solve_time,
                    p.images_used.iter().sum::<u32>()
                );
            }
        }
    }
}
