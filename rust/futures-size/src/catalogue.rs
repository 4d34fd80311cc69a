//! The catalogue: every entry builds one future, never polls it, and records
//! `std::mem::size_of_val` of the value — the bytes a task, a `Box::pin` or a caller's state machine
//! must reserve for it. A future's size is a property of its type, so it is the same before and after
//! polling. Buffers are created through `black_box` and used after the await, so the compiler cannot
//! shrink or drop them. Await points use `YieldOnce` (pending once, one byte), so the "any" entries
//! measure the language, not a runtime.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};

pub const KIB: usize = 1024;

/// clippy `large_futures` (pedantic): `future-size-threshold`, default 16 * 1024, fires at `size >= threshold`.
pub const CLIPPY_LARGE_FUTURES: usize = 16 * KIB;
/// tokio `runtime::BOX_FUTURE_THRESHOLD`: a future moved into spawn/block_on is boxed first when
/// `size_of::<F>() > threshold`; the value depends on tokio's own `debug_assertions`.
pub const TOKIO_AUTO_BOX_DEBUG: usize = 2048;
pub const TOKIO_AUTO_BOX_RELEASE: usize = 16384;
/// The tokio threshold for this build (assumes tokio is built with the same profile as this crate).
pub const TOKIO_AUTO_BOX: usize = if cfg!(debug_assertions) {
    TOKIO_AUTO_BOX_DEBUG
} else {
    TOKIO_AUTO_BOX_RELEASE
};

#[derive(Debug, Clone)]
pub struct Entry {
    pub pattern: String,
    pub runtime: &'static str,
    pub bytes: usize,
    pub description: String,
}

impl Entry {
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.bytes >= CLIPPY_LARGE_FUTURES {
            flags.push("above_clippy_large_futures");
        }
        if self.bytes > TOKIO_AUTO_BOX {
            flags.push("above_tokio_auto_box");
        }
        flags
    }
}

/// One await point: pending once (waking itself), then ready. One byte of state.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

/// A non-`Copy` buffer, so `drop(buf)` is a real move and the compiler cannot treat it as a no-op.
#[derive(Clone)]
struct Buf<const N: usize>([u8; N]);

impl<const N: usize> Buf<N> {
    fn new() -> Self {
        Buf(black_box([1u8; N]))
    }
    fn sum(&self) -> u64 {
        black_box(&self.0).iter().map(|&b| u64::from(b)).sum()
    }
    fn into_sum(self) -> u64 {
        self.sum()
    }
}

async fn held_across_await<const N: usize>() -> u64 {
    let buf = Buf::<N>::new();
    yield_once().await;
    buf.sum()
}

async fn scoped_before_await<const N: usize>() -> u64 {
    let sum = {
        let buf = Buf::<N>::new();
        buf.sum()
    };
    yield_once().await;
    sum
}

async fn moved_before_await<const N: usize>() -> u64 {
    let buf = Buf::<N>::new();
    let sum = buf.into_sum();
    yield_once().await;
    sum
}

// `drop(buf)` on a type without drop glue is exactly the idiom this entry measures.
#[allow(clippy::drop_non_drop)]
async fn dropped_before_await<const N: usize>() -> u64 {
    let buf = Buf::<N>::new();
    let sum = buf.sum();
    drop(buf);
    yield_once().await;
    sum
}

// Depth 1 is the leaf holding a 1 KiB buffer across an await; depth k awaits depth k-1.
async fn nest_1() -> u64 {
    held_across_await::<KIB>().await
}
macro_rules! nested {
    ($($name:ident => $inner:ident),* $(,)?) => {
        $(async fn $name() -> u64 { $inner().await + 1 })*
    };
}
nested!(nest_2 => nest_1, nest_3 => nest_2, nest_4 => nest_3, nest_5 => nest_4, nest_6 => nest_5,
        nest_7 => nest_6, nest_8 => nest_7, nest_9 => nest_8, nest_10 => nest_9);

/// A generic combinator written as an `async fn` that takes a future by value and awaits it.
async fn wrap<F: Future>(fut: F) -> F::Output {
    fut.await
}

trait Handler {
    async fn handle(&self) -> u64;
}

/// A dyn-compatible trait: the future is type-erased and boxed by the implementation.
trait DynHandler {
    fn handle_boxed(&self) -> Pin<Box<dyn Future<Output = u64> + Send + '_>>;
}

struct Worker;

impl Handler for Worker {
    async fn handle(&self) -> u64 {
        held_across_await::<KIB>().await
    }
}

impl DynHandler for Worker {
    fn handle_boxed(&self) -> Pin<Box<dyn Future<Output = u64> + Send + '_>> {
        Box::pin(self.handle())
    }
}

// The large variant is the point of these entries, so the lints that warn about it are allowed;
// its payload is never read, it only makes the variant large.
#[allow(clippy::large_enum_variant, dead_code)]
enum BigError {
    Timeout,
    Detailed([u8; 4 * KIB]),
}

#[allow(clippy::result_large_err)]
async fn step_big(ok: bool) -> Result<u64, BigError> {
    yield_once().await;
    if ok {
        Ok(1)
    } else {
        Err(BigError::Detailed(black_box([7; 4 * KIB])))
    }
}

#[allow(clippy::result_large_err)]
async fn carry_big() -> Result<u64, BigError> {
    let first = step_big(black_box(true)).await;
    yield_once().await;
    match first? {
        n if n > 1 => Err(BigError::Timeout),
        n => Ok(n + 1),
    }
}

async fn step_boxed(ok: bool) -> Result<u64, Box<BigError>> {
    yield_once().await;
    if ok {
        Ok(1)
    } else {
        Err(Box::new(BigError::Detailed(black_box([7; 4 * KIB]))))
    }
}

async fn carry_boxed() -> Result<u64, Box<BigError>> {
    let first = step_boxed(black_box(true)).await;
    yield_once().await;
    match first? {
        n if n > 1 => Err(Box::new(BigError::Timeout)),
        n => Ok(n + 1),
    }
}

/// Builds the catalogue. No future is polled; each is dropped right after it is measured.
pub fn catalogue() -> Vec<Entry> {
    let mut out = Vec::new();
    let mut add = |pattern: &str, runtime: &'static str, bytes: usize, description: &str| {
        out.push(Entry {
            pattern: pattern.to_string(),
            runtime,
            bytes,
            description: description.to_string(),
        })
    };
    fn size<F: Future>(fut: F) -> usize {
        std::mem::size_of_val(&fut)
    }

    add(
        "empty_async_block",
        "any",
        size(async {}),
        "an async block with no await: the smallest state machine",
    );
    add(
        "yield_once",
        "any",
        size(yield_once()),
        "the hand-written one-byte future used as the await point everywhere",
    );
    for (label, bytes) in [
        ("1KiB", size(held_across_await::<KIB>())),
        ("8KiB", size(held_across_await::<{ 8 * KIB }>())),
        ("16KiB", size(held_across_await::<{ 16 * KIB }>())),
    ] {
        add(
            &format!("buffer_held_across_await/{label}"),
            "any",
            bytes,
            &format!("a local {label} buffer used after an await is stored in the future"),
        );
    }
    for (label, bytes) in [
        ("1KiB", size(scoped_before_await::<KIB>())),
        ("8KiB", size(scoped_before_await::<{ 8 * KIB }>())),
    ] {
        add(
            &format!("buffer_scoped_before_await/{label}"),
            "any",
            bytes,
            &format!(
                "a {label} buffer whose block ends before the await is not stored in the future"
            ),
        );
    }
    for (label, bytes) in [
        ("1KiB", size(moved_before_await::<KIB>())),
        ("8KiB", size(moved_before_await::<{ 8 * KIB }>())),
    ] {
        add(
            &format!("buffer_moved_before_await/{label}"),
            "any",
            bytes,
            &format!(
                "a {label} buffer never borrowed, consumed by value before the await: not stored (rust-lang/rust#61922)"
            ),
        );
    }
    for (label, bytes) in [
        ("1KiB", size(dropped_before_await::<KIB>())),
        ("8KiB", size(dropped_before_await::<{ 8 * KIB }>())),
    ] {
        add(
            &format!("buffer_borrowed_then_dropped_before_await/{label}"),
            "any",
            bytes,
            &format!(
                "a {label} buffer borrowed, then drop()ped before the await while still in scope: still stored (rust-lang/rust#96084)"
            ),
        );
    }

    let nested = [
        size(nest_1()),
        size(nest_2()),
        size(nest_3()),
        size(nest_4()),
        size(nest_5()),
        size(nest_6()),
        size(nest_7()),
        size(nest_8()),
        size(nest_9()),
        size(nest_10()),
    ];
    let boxed = [
        size(async { Box::pin(nest_1()).await }),
        size(async { Box::pin(nest_2()).await }),
        size(async { Box::pin(nest_3()).await }),
        size(async { Box::pin(nest_4()).await }),
        size(async { Box::pin(nest_5()).await }),
        size(async { Box::pin(nest_6()).await }),
        size(async { Box::pin(nest_7()).await }),
        size(async { Box::pin(nest_8()).await }),
        size(async { Box::pin(nest_9()).await }),
        size(async { Box::pin(nest_10()).await }),
    ];
    for (i, bytes) in nested.iter().enumerate() {
        let depth = i + 1;
        add(
            &format!("nested_async_fn/depth-{depth:02}"),
            "any",
            *bytes,
            &format!(
                "{depth} async fn(s) awaiting each other, a 1KiB buffer held at the bottom: each level embeds its callee"
            ),
        );
    }
    for (i, bytes) in boxed.iter().enumerate() {
        let depth = i + 1;
        add(
            &format!("nested_async_fn_boxed_boundary/depth-{depth:02}"),
            "any",
            *bytes,
            &format!(
                "a caller that awaits Box::pin(depth-{depth} chain): the callee lives on the heap, the caller holds a pointer"
            ),
        );
    }
    for (depth, bytes) in [
        (1, size(wrap(nest_1()))),
        (2, size(wrap(wrap(nest_1())))),
        (3, size(wrap(wrap(wrap(nest_1()))))),
        (4, size(wrap(wrap(wrap(wrap(nest_1())))))),
    ] {
        add(
            &format!("future_argument_wrapper/depth-{depth}"),
            "any",
            bytes,
            &format!(
                "{depth} generic `async fn wrap(fut: F) {{ fut.await }}` around the 1KiB leaf: the argument is stored twice, so size doubles per level (rust-lang/rust#62958)"
            ),
        );
    }

    add(
        "join/tokio",
        "tokio",
        size(async { tokio::join!(held_across_await::<KIB>(), held_across_await::<KIB>()) }),
        "tokio::join! of two 1KiB-buffer futures inside an async block: both futures and both outputs are stored",
    );
    add(
        "select/tokio",
        "tokio",
        size(async {
            tokio::select! { a = held_across_await::<KIB>() => a, b = held_across_await::<KIB>() => b }
        }),
        "tokio::select! over two 1KiB-buffer futures inside an async block: both branches are stored",
    );
    add(
        "join/futures",
        "futures",
        size(async { futures::join!(held_across_await::<KIB>(), held_across_await::<KIB>()) }),
        "futures::join! of two 1KiB-buffer futures inside an async block",
    );
    add(
        "select/futures",
        "futures",
        size(async {
            use futures::FutureExt;
            let a = held_across_await::<KIB>().fuse();
            let b = held_across_await::<KIB>().fuse();
            futures::pin_mut!(a, b);
            futures::select! { x = a => x, y = b => y }
        }),
        "futures::select! over two fused, stack-pinned 1KiB-buffer futures inside an async block",
    );
    add(
        "zip/futures-lite",
        "smol",
        size(async {
            futures_lite::future::zip(held_across_await::<KIB>(), held_across_await::<KIB>()).await
        }),
        "futures_lite::future::zip (smol's combinators) of two 1KiB-buffer futures, awaited in an async block",
    );
    add(
        "or/futures-lite",
        "smol",
        size(async {
            futures_lite::future::or(held_across_await::<KIB>(), held_across_await::<KIB>()).await
        }),
        "futures_lite::future::or (smol's combinators) of two 1KiB-buffer futures, awaited in an async block",
    );

    let captured = Buf::<KIB>::new();
    let async_closure = async || {
        yield_once().await;
        captured.sum()
    };
    add(
        "async_closure/captures-1KiB",
        "any",
        size(async_closure()),
        "a Rust 2024 `async ||` closure over a 1KiB buffer: its future borrows the closure's captures instead of copying them",
    );
    let block_closure = || {
        let captured = captured.clone();
        async move {
            yield_once().await;
            captured.sum()
        }
    };
    add(
        "closure_returning_async_move/captures-1KiB",
        "any",
        size(block_closure()),
        "the pre-2024 `|| async move {..}` idiom: each returned future owns its own copy of the 1KiB capture",
    );

    add(
        "async_fn_in_trait/static",
        "any",
        size(Worker.handle()),
        "async fn in a trait called on a concrete type: the future is the impl's state machine, 1KiB buffer inline",
    );
    let dyn_handler: &dyn DynHandler = &Worker;
    let boxed_future = dyn_handler.handle_boxed();
    add(
        "async_fn_in_trait/dyn-boxed-handle",
        "any",
        std::mem::size_of_val(&boxed_future),
        "the Pin<Box<dyn Future>> returned through a dyn-compatible trait: a fat pointer, whatever the impl holds",
    );
    add(
        "async_fn_in_trait/dyn-boxed-heap",
        "any",
        std::mem::size_of_val(&*boxed_future),
        "the heap allocation behind that Pin<Box<dyn Future>>: the same state machine, moved to the heap",
    );
    drop(boxed_future);

    add(
        "large_error/carried-across-await",
        "any",
        size(carry_big()),
        "a Result whose error enum has a 4KiB variant, held across an await: the whole Result is stored",
    );
    add(
        "boxed_error/carried-across-await",
        "any",
        size(carry_boxed()),
        "the same with the error boxed (Result<u64, Box<E>>): only a pointer is stored",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(pattern: &str) -> usize {
        catalogue()
            .into_iter()
            .find(|e| e.pattern == pattern)
            .unwrap_or_else(|| panic!("no entry {pattern}"))
            .bytes
    }

    #[test]
    fn buffer_held_across_await_is_stored() {
        assert!(bytes("buffer_held_across_await/1KiB") >= KIB);
        assert!(bytes("buffer_held_across_await/8KiB") >= 8 * KIB);
        assert!(bytes("buffer_held_across_await/16KiB") >= 16 * KIB);
    }

    #[test]
    fn buffer_ended_before_await_is_not_stored() {
        assert!(bytes("buffer_scoped_before_await/1KiB") < KIB);
        assert!(bytes("buffer_scoped_before_await/8KiB") < bytes("buffer_held_across_await/8KiB"));
        assert!(bytes("buffer_scoped_before_await/8KiB") < KIB);
    }

    #[test]
    fn buffer_moved_before_await_is_not_stored() {
        assert!(bytes("buffer_moved_before_await/1KiB") < KIB);
        assert!(bytes("buffer_moved_before_await/8KiB") < bytes("buffer_held_across_await/8KiB"));
        // `buffer_borrowed_then_dropped_before_await` is deliberately not asserted: rustc keeps the slot
        // of a once-borrowed local today (rust-lang/rust#96084), and a fix must not break this test.
    }

    #[test]
    fn nesting_never_shrinks_and_boxing_bounds_the_caller() {
        let mut previous = 0;
        for depth in 1..=10 {
            let nested = bytes(&format!("nested_async_fn/depth-{depth:02}"));
            assert!(nested >= KIB, "depth {depth}");
            assert!(nested >= previous, "depth {depth} shrank");
            previous = nested;
            assert!(bytes(&format!("nested_async_fn_boxed_boundary/depth-{depth:02}")) < KIB);
        }
    }

    #[test]
    fn wrapping_a_future_argument_never_shrinks() {
        let mut previous = bytes("nested_async_fn/depth-01");
        for depth in 1..=4 {
            let wrapped = bytes(&format!("future_argument_wrapper/depth-{depth}"));
            assert!(wrapped >= previous, "depth {depth}");
            previous = wrapped;
        }
    }

    #[test]
    fn combinators_store_both_futures() {
        for p in ["join/tokio", "join/futures", "zip/futures-lite"] {
            assert!(bytes(p) >= 2 * KIB, "{p}");
        }
        for p in ["select/tokio", "select/futures", "or/futures-lite"] {
            assert!(bytes(p) >= 2 * KIB, "{p}");
        }
    }

    #[test]
    fn async_closure_borrows_where_async_move_copies() {
        assert!(bytes("async_closure/captures-1KiB") < KIB);
        assert!(bytes("closure_returning_async_move/captures-1KiB") >= KIB);
    }

    #[test]
    fn dyn_boxing_moves_the_state_to_the_heap() {
        assert!(bytes("async_fn_in_trait/static") >= KIB);
        assert!(bytes("async_fn_in_trait/dyn-boxed-handle") < KIB);
        assert!(bytes("async_fn_in_trait/dyn-boxed-heap") >= KIB);
    }

    #[test]
    fn boxed_error_is_smaller_than_inline_error() {
        assert!(bytes("large_error/carried-across-await") >= 4 * KIB);
        assert!(bytes("boxed_error/carried-across-await") < KIB);
    }

    #[test]
    fn flags_follow_thresholds() {
        for e in catalogue() {
            let flags = e.flags();
            assert_eq!(
                flags.contains(&"above_clippy_large_futures"),
                e.bytes >= CLIPPY_LARGE_FUTURES
            );
            assert_eq!(
                flags.contains(&"above_tokio_auto_box"),
                e.bytes > TOKIO_AUTO_BOX
            );
        }
        let e = catalogue()
            .into_iter()
            .find(|e| e.pattern == "buffer_held_across_await/16KiB")
            .unwrap();
        assert!(e.flags().contains(&"above_clippy_large_futures"));
    }
}
