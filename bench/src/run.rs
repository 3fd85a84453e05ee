//! Running work on several tasks that share one pool.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::task::JoinSet;

use crate::BenchResult;

/// Runs `tasks` copies of `work` (given the task's index) at once and collects their
/// results in task order.
///
/// # Errors
/// The first error of a task (the others are left to finish).
pub async fn concurrently<T, F, Fut>(tasks: usize, work: F) -> BenchResult<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = BenchResult<T>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for task in 0..tasks {
        let fut = work(task);
        set.spawn(async move { (task, fut.await) });
    }
    let mut results: Vec<Option<T>> = (0..tasks).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (task, result) = joined.map_err(|e| format!("task panicked: {e}"))?;
        results[task] = Some(result?);
    }
    Ok(results.into_iter().flatten().collect())
}

/// A list of work items that tasks take from, one at a time, in order.
#[derive(Debug, Clone)]
pub struct Shared<T> {
    items: Arc<Vec<T>>,
    next: Arc<AtomicUsize>,
}

impl<T: Copy> Shared<T> {
    /// The items, none taken yet.
    pub fn new(items: Vec<T>) -> Self {
        Self {
            items: Arc::new(items),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The next item nobody has taken, or `None` when all are taken.
    pub fn next(&self) -> Option<T> {
        self.items
            .get(self.next.fetch_add(1, Ordering::Relaxed))
            .copied()
    }

    /// How many items there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
