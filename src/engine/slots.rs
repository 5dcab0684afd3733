//! The batching core of the judge's and the generator's schedulers: one context of KV
//! sequences, a fixed number of slots, and the loop that admits work into free slots.
//!
//! Each scheduler keeps only its own state (a pair's two orders, a prompt's samples)
//! and says through [`Scheduler`] how one item starts, steps and finishes. The loop
//! here fills free slots in input order, steps every running item together (one decode
//! call carries a token of every generating sequence) and hands each finished item
//! back in completion order, so an item's sequences are reused as soon as it is done.

use super::{backend, Context, ContextParams, Model};
use crate::{Error, Result};

/// llama.cpp's limit on sequences per context (`LLAMA_MAX_SEQ`).
pub(crate) const MAX_SEQUENCES: usize = 256;

/// The shape of a scheduler's context.
pub(crate) struct SlotShape<'a> {
    /// Items in flight, and KV sequences for each.
    pub slots: usize,
    pub per_slot: usize,
    /// Sequences of the scheduler's own, numbered after the slots' (from
    /// `slots * per_slot`).
    pub extra: usize,
    /// KV cells of every sequence.
    pub ctx_per_seq: u32,
    pub threads: usize,
    /// Names the work in the error when llama.cpp's sequence limit is exceeded ("pairs").
    pub items: &'a str,
}

/// The context of a scheduler of the given shape.
pub(crate) fn open_context<'m>(model: &'m Model, shape: &SlotShape) -> Result<Context<'m>> {
    let n_seq = shape.slots.saturating_mul(shape.per_slot).saturating_add(shape.extra);
    if n_seq > MAX_SEQUENCES {
        return Err(Error::InvalidArgument(format!(
            "{} {} in flight need {n_seq} sequences; llama.cpp allows {MAX_SEQUENCES}",
            shape.slots, shape.items
        )));
    }
    backend()?;
    Context::new(model, ContextParams::for_sequences(model, n_seq, shape.ctx_per_seq, shape.threads)?)
}

/// What a scheduler does with one item of work; [`run`] does the rest.
pub(crate) trait Scheduler {
    /// The work: a pair, a generation request.
    type Item;
    /// An item in flight, holding its slot's sequences.
    type Run;
    /// What is reported for an item: a verdict, generated samples.
    type Output;

    /// Starts item `index` in slot `slot`. `Ok(Err(reason))` is the item's own problem
    /// (answered at once with [`Scheduler::failed`], and the batch goes on); `Err` stops
    /// the batch.
    fn start(&mut self, index: usize, slot: usize, item: &Self::Item) -> Result<Result<Self::Run, String>>;

    /// The answer to an item that could not start.
    fn failed(&self, item: &Self::Item, reason: String) -> Self::Output;

    /// Advances every running item (`None` slots are free).
    fn step(&mut self, slots: &mut [Option<Self::Run>]) -> Result<()>;

    fn is_finished(run: &Self::Run) -> bool;

    /// Frees a finished item's sequences; returns its index and answer.
    fn finish(&mut self, run: Self::Run, items: &[Self::Item]) -> Result<(usize, Self::Output)>;

    /// Whether a cancel request stops the batch before the next step.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Runs `items` through `scheduler` with `slots` items in flight, calling
/// `on_output(index, output)` as each one finishes; returning `false` from it stops the
/// batch with [`Error::Cancelled`].
pub(crate) fn run<S: Scheduler>(
    scheduler: &mut S,
    items: &[S::Item],
    slots: usize,
    on_output: &mut dyn FnMut(usize, S::Output) -> bool,
) -> Result<()> {
    let mut running: Vec<Option<S::Run>> = (0..slots).map(|_| None).collect();
    let mut next = 0;
    loop {
        if scheduler.cancelled() {
            return Err(Error::Cancelled);
        }
        for (slot, place) in running.iter_mut().enumerate() {
            while place.is_none() && next < items.len() {
                let index = next;
                next += 1;
                match scheduler.start(index, slot, &items[index])? {
                    Ok(run) => *place = Some(run),
                    Err(reason) => {
                        if !on_output(index, scheduler.failed(&items[index], reason)) {
                            return Err(Error::Cancelled);
                        }
                    }
                }
            }
        }
        if running.iter().all(Option::is_none) {
            return Ok(());
        }
        scheduler.step(&mut running)?;
        for slot in &mut running {
            if slot.as_ref().is_some_and(S::is_finished) {
                let run = slot.take().expect("checked above");
                let (index, output) = scheduler.finish(run, items)?;
                if !on_output(index, output) {
                    return Err(Error::Cancelled);
                }
            }
        }
    }
}
