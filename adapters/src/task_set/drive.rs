//! [`Drive`]: the future a set spawns for each task. It runs the task's own future (catching
//! a panic, stopping at an abort), records a failure, and ends the task; and when it is
//! dropped before that (the set was dropped, the runtime shut down), it ends the task as
//! cancelled. No panic of the task gets out of it: not from a poll, not from the error's
//! `Display`, not from the task's destructor.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use winddown_core::TaskFailure;

use super::context::TaskContext;
use super::outcome::{TaskExit, TaskResult};
use super::registry::TaskEnd;
use super::runtime::TaskRuntime;
use crate::panic::{message, CatchUnwind};

/// What a task starts with, made by its set before the task's closure is called: the
/// context to call it with, and what ends the task.
///
/// Public only because [`SpawnTask`](super::SpawnTask) names it; it cannot be made or used
/// outside this crate.
pub struct Start<R: TaskRuntime, E> {
    pub(super) context: TaskContext<R>,
    pub(super) end: TaskEnd<E>,
    pub(super) name: Cow<'static, str>,
}

impl<R: TaskRuntime, E> Start<R, E> {
    pub(super) fn into_parts(self) -> (TaskContext<R>, TaskEnd<E>, Cow<'static, str>) {
        (self.context, self.end, self.name)
    }
}

impl<R: TaskRuntime, E> fmt::Debug for Start<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Start")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One task, as its set spawns it. `Send` when the task's future is.
///
#[must_use = "futures do nothing unless polled"]
pub(super) struct Drive<Fut: Future>
where
    Fut::Output: TaskResult,
{
    /// The task's future, until it completes, panics or is aborted.
    future: Option<Pin<Box<CatchUnwind<Fut>>>>,
    /// Ends the task when dropped (invariant 1); `None` once the task has ended.
    end: Option<TaskEnd<<Fut::Output as TaskResult>::Error>>,
    name: Cow<'static, str>,
}

impl<Fut: Future> Drive<Fut>
where
    Fut::Output: TaskResult,
{
    pub(super) fn new(
        future: Fut,
        end: TaskEnd<<Fut::Output as TaskResult>::Error>,
        name: Cow<'static, str>,
    ) -> Self {
        Drive {
            future: Some(Box::pin(CatchUnwind::new(future))),
            end: Some(end),
            name,
        }
    }

    /// Drops the task's future; a panic in its destructor is caught and returned.
    fn drop_future(&mut self) -> Result<(), Option<String>> {
        let future = self.future.take();
        // AssertUnwindSafe: the future is gone whatever its destructor does; nothing of it is
        // observed afterwards.
        catch_unwind(AssertUnwindSafe(move || drop(future))).map_err(|payload| message(&*payload))
    }

    /// Ends the task: `output` is how its future ended (`None`: aborted, or cancelled), `dropped`
    /// whether its destructor panicked.
    fn end(
        &mut self,
        output: Option<Result<Fut::Output, Option<String>>>,
        dropped: Result<(), Option<String>>,
    ) {
        let Some(mut end) = self.end.take() else {
            return;
        };
        let exit = match (output, dropped) {
            (Some(Err(panic)), _) | (_, Err(panic)) => {
                end.registry
                    .failed(TaskFailure::panic(self.name.clone(), panic.clone()));
                TaskExit::Panicked(panic)
            }
            (None, Ok(())) => TaskExit::Cancelled,
            (Some(Ok(output)), Ok(())) => match output.into_result() {
                Ok(()) => TaskExit::Finished,
                Err(error) => {
                    let message = describe::<Fut::Output>(&error);
                    end.registry
                        .failed(TaskFailure::error(self.name.clone(), message));
                    TaskExit::Failed(error)
                }
            },
        };
        end.exit = Some(exit);
        // Now, not when the runtime drops this future: the task has ended.
        drop(end);
    }
}

/// The error's text for the report. An error whose `Display` panics is still a failure: the
/// text then says so (with the panic's message), and the panic goes no further.
fn describe<T: TaskResult>(error: &T::Error) -> String {
    catch_unwind(AssertUnwindSafe(|| T::describe(error))).unwrap_or_else(|payload| {
        match message(&*payload) {
            Some(panic) => format!("(the error's Display panicked: {panic})"),
            None => "(the error's Display panicked)".to_owned(),
        }
    })
}

impl<Fut: Future> fmt::Debug for Drive<Fut>
where
    Fut::Output: TaskResult,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drive")
            .field("name", &self.name)
            .field("ended", &self.end.is_none())
            .finish_non_exhaustive()
    }
}

// Nothing of it is pinned in place: the task's future is boxed, and the rest is moved freely.
impl<Fut: Future> Unpin for Drive<Fut> where Fut::Output: TaskResult {}

impl<Fut: Future> Future for Drive<Fut>
where
    Fut::Output: TaskResult,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let (Some(future), Some(end)) = (this.future.as_mut(), this.end.as_ref()) else {
            return Poll::Ready(());
        };
        // An abort wins over the task: checked first at every poll.
        let output = if end.cell.aborted(cx) {
            None
        } else {
            match future.as_mut().poll(cx) {
                Poll::Ready(output) => Some(output),
                Poll::Pending => return Poll::Pending,
            }
        };
        // The task's future is gone before the task ends (its guard is released).
        let dropped = this.drop_future();
        this.end(output, dropped);
        Poll::Ready(())
    }
}

impl<Fut: Future> Drop for Drive<Fut>
where
    Fut::Output: TaskResult,
{
    fn drop(&mut self) {
        // Cancelled before it ended (the set or the runtime dropped it). The executor may drop
        // it where a panic would abort the process (smol cancels inside `Task::drop`): a panic
        // of the task's destructor is caught and recorded here.
        if self.end.is_some() {
            let dropped = self.drop_future();
            self.end(None, dropped);
        }
    }
}
