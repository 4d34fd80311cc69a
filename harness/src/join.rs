//! A tiny `join_all` that polls futures on the current task (no spawning, no extra dependency): used by
//! the load generator and the echo check, which each drive many connections from one thread.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Polls every future until all are done and returns their outputs in order.
pub async fn join_all<T, F: Future<Output = T>>(futs: impl IntoIterator<Item = F>) -> Vec<T> {
    let mut pending: Vec<(usize, Pin<Box<F>>)> =
        futs.into_iter().map(Box::pin).enumerate().collect();
    let mut done: Vec<Option<T>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            Poll::Ready(v) => {
                done[*i] = Some(v);
                false
            }
            Poll::Pending => true,
        });
        if pending.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done.into_iter()
        .map(|v| v.expect("every future completed"))
        .collect()
}
