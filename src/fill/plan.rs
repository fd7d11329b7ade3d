//! How a request is cut into work. Configurations with the same phases (same
//! `total_steps`, `pct_start`, `three_phase` and `anneal_strategy`) form a group, whose
//! phases are found once for the whole request. Each row is cut into blocks of [`BLOCK`]
//! values; a task is one block of a batch of rows (in group order, up to about
//! [`TASK_VALUES`] values), and tasks run on all cores when the output is large enough.
//! Within a task, the rows of each group go to the loops together ([`Rows`]).

use std::collections::HashMap;
use std::ops::Range;

use rayon::prelude::*;

use super::base::{Accuracy, Prepared, Sample, BLOCK};
use super::kernel::{dispatch, Out, Rows};
use super::steps::Positions;
use crate::cycle::{Anneal, OneCycle};
use crate::error::Error;
use crate::simd::Level;

/// About this many values per parallel task: the rows of a block are batched up to it.
const TASK_VALUES: usize = 1 << 17;

/// Configurations whose schedules have the same phases: they share the factors.
struct Group<'r, Phases> {
    cycle: &'r OneCycle,
    phases: Phases,
}

/// Some rows of one block: the unit of parallel work.
struct Task<'o, T> {
    /// The values of each row the block holds.
    block: Range<usize>,
    outs: Vec<Out<'o, T>>,
}

/// The groups of a request's configurations and their phases at its steps.
pub(super) struct Plan<'r, P: Positions> {
    prepared: &'r [Prepared],
    positions: &'r P,
    groups: Vec<Group<'r, P::Phases>>,
    /// The group of each configuration.
    group_of: Vec<usize>,
}

impl<'r, P: Positions> Plan<'r, P> {
    /// The phase lists of `prepared`, each once, their phases at `positions`, and which one
    /// each configuration uses.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] from the first group with a step in a phase of zero
    /// width.
    pub(super) fn new(prepared: &'r [Prepared], positions: &'r P) -> Result<Self, Error> {
        // Configurations share the factors where their phases end at the same steps.
        type Shape = (Anneal, Vec<u64>);
        let mut index: HashMap<Shape, usize> = HashMap::new();
        let mut groups = Vec::new();
        let mut group_of = Vec::with_capacity(prepared.len());
        for cycle in prepared.iter().map(Prepared::cycle) {
            let shape: Shape = (
                cycle.anneal(),
                cycle
                    .phases()
                    .iter()
                    .map(|p| p.end_step.to_bits())
                    .collect(),
            );
            if let Some(&g) = index.get(&shape) {
                group_of.push(g);
            } else {
                groups.push(Group {
                    cycle,
                    phases: positions.phases(cycle)?,
                });
                index.insert(shape, groups.len() - 1);
                group_of.push(groups.len() - 1);
            }
        }
        Ok(Plan {
            prepared,
            positions,
            groups,
            group_of,
        })
    }

    /// Fills row `i` of `lr` and `momentum` (which hold one row per configuration, at
    /// least one value in all) with configuration `i`'s values, on all cores if `parallel`.
    pub(super) fn fill<T: Sample>(
        &self,
        lr: &mut [T],
        momentum: &mut [T],
        (accuracy, level): (Accuracy, Level),
        parallel: bool,
    ) {
        let tasks = self.tasks(lr, momentum);
        let run = |task| self.run(task, accuracy, level);
        if parallel {
            tasks.into_par_iter().for_each(run);
        } else {
            tasks.into_iter().for_each(run);
        }
    }

    /// The blocks of every row, batched into tasks; rows in group order, so the rows of
    /// one task share the factors as far as possible.
    fn tasks<'o, T>(&self, lr: &'o mut [T], momentum: &'o mut [T]) -> Vec<Task<'o, T>> {
        let row = self.positions.len();
        let mut order: Vec<usize> = (0..self.prepared.len()).collect();
        order.sort_by_key(|&i| self.group_of[i]);
        let mut blocks: Vec<_> = lr
            .chunks_mut(row)
            .zip(momentum.chunks_mut(row))
            .map(|(l, m)| l.chunks_mut(BLOCK).zip(m.chunks_mut(BLOCK)))
            .collect();
        let rows_per_task = (TASK_VALUES / row.min(BLOCK)).max(1);
        let mut tasks = Vec::new();
        for first in (0..row).step_by(BLOCK) {
            let block = first..(first + BLOCK).min(row);
            for batch in order.chunks(rows_per_task) {
                let outs = batch
                    .iter()
                    .filter_map(|&config| {
                        let (lr, momentum) = blocks[config].next()?;
                        Some(Out {
                            config,
                            lr,
                            momentum,
                        })
                    })
                    .collect();
                tasks.push(Task {
                    block: block.clone(),
                    outs,
                });
            }
        }
        tasks
    }

    /// Fills one task: each group's rows (adjacent) together.
    fn run<T: Sample>(&self, mut task: Task<'_, T>, accuracy: Accuracy, level: Level) {
        // Zeroed only once a group is shared.
        let mut buffer = None;
        let block = self.positions.block(task.block, level);
        let mut outs = &mut task.outs[..];
        while let Some(first) = outs.first() {
            let g = self.group_of[first.config];
            let n = outs
                .iter()
                .take_while(|out| self.group_of[out.config] == g)
                .count();
            let (rows, rest) = outs.split_at_mut(n);
            let Group { cycle, phases } = &self.groups[g];
            let rows = Rows {
                level,
                positions: self.positions,
                phases,
                prepared: self.prepared,
                block: &block,
                outs: rows,
                buffer: &mut buffer,
            };
            dispatch(cycle.anneal(), accuracy, rows);
            outs = rest;
        }
    }
}
