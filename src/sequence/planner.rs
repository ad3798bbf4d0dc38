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
use good_lp::{Expression, ProblemVariables, Variable, microlp, variable};

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
    let mut optimal = true;

    // Stage 1: the largest total.
    let lp = problem.solve_stage(Stage::Total, false, None)?;
    let bound = (lp.objective + 1e-6).floor().max(0.0) as u32;
    let floored = lp
        .values
        .iter()
        .map(|v| (v + 1e-9).floor().max(0.0) as u32)
        .collect();
    let mut best = problem.greedy_fill(floored);
    if !problem.feasible(&best) {
        best = problem.greedy_fill(vec![0; problem.np]);
    }
    if sum(&best) < bound {
        let ip = problem.solve_stage(Stage::Total, true, Some(&best))?;
        let x = problem.repair(round(&ip.values));
        if sum(&x) >= sum(&best) {
            best = x;
        }
        optimal = ip.optimal || sum(&best) >= bound;
    }

    // Stages 2 and 3: the narrowest band of counts at that total.
    let active: Vec<usize> = (0..problem.np).filter(|&p| problem.ub[p] > 0).collect();
    if opts.even && active.len() > 1 && sum(&best) > 0 {
        let total = sum(&best);
        let lo = problem.solve_stage(Stage::RaiseMin { total }, true, Some(&best))?;
        let x = problem.repair(round(&lo.values));
        if sum(&x) == total && min_over(&x, &active) >= min_over(&best, &active) {
            best = x;
        }
        let floor = min_over(&best, &active);
        let hi = problem.solve_stage(Stage::LowerMax { total, floor }, true, Some(&best))?;
        let x = problem.repair(round(&hi.values));
        if sum(&x) == total
            && min_over(&x, &active) >= floor
            && max_over(&x, &active) <= max_over(&best, &active)
        {
            best = x;
        }
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
    /// Total fixed, smallest count ≥ floor; minimise the largest count.
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

    /// Builds and solves one stage; `integer` false gives the LP relaxation.
    fn solve_stage(
        &self,
        stage: Stage,
        integer: bool,
        start: Option<&[u32]>,
    ) -> Result<StageResult, PlanError> {
        let mut vars = ProblemVariables::new();
        let xs: Vec<Variable> = self
            .ub
            .iter()
            .map(|&u| {
                let def = variable().min(0).max(u as f64);
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
        let unsolved = match stage {
            Stage::Total => vars.maximise(total.clone()),
            Stage::RaiseMin { .. } => vars.maximise(aux.expect("aux")),
            Stage::LowerMax { .. } => vars.minimise(aux.expect("aux")),
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
        match stage {
            Stage::Total => {}
            Stage::RaiseMin { total: n } => {
                model = model.with(total.clone().eq(n as f64));
                for &p in &active {
                    model = model.with((xs[p] - aux.expect("aux")).geq(0.0));
                }
            }
            Stage::LowerMax { total: n, floor } => {
                model = model.with(total.clone().eq(n as f64));
                for &p in &active {
                    model = model.with(Expression::from(xs[p]).geq(floor as f64));
                    model = model.with((aux.expect("aux") - xs[p]).geq(0.0));
                }
            }
        }
        let solution = model
            .solve()
            .map_err(|e| PlanError::Solver(e.to_string()))?;
        let values: Vec<f64> = xs.iter().map(|&v| solution.value(v)).collect();
        let objective = match aux {
            Some(a) => solution.value(a),
            None => values.iter().sum(),
        };
        Ok(StageResult {
            values,
            objective,
            optimal: matches!(solution.status(), SolutionStatus::Optimal),
        })
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
}
