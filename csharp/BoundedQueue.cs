// BoundedQueue<T>: the bounded async channel used by Stream.cs on Mono, whose class library lacks
// System.Threading.Channels (on .NET this file compiles to nothing and Channels is used instead).
// It offers the subset of ChannelReader/ChannelWriter the pipeline needs, with the same semantics as
// Channel.CreateBounded(FullMode = Wait): WriteAsync completes at once while there is room, otherwise
// the writer's item waits in line and its task completes when a reader makes room; WaitToReadAsync
// completes with true when an item is available and with false once the queue is completed and empty.
// One lock guards all state; waiters are TaskCompletionSources created with
// RunContinuationsAsynchronously and completed outside the lock, so a wake-up never runs the other
// side's continuation inline (Channels' default, AllowSynchronousContinuations = false).
// Safe for any number of readers and writers; invariant: writers only wait while the queue is full.
#if !NETCOREAPP
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace AsyncBench
{
    sealed class BoundedQueue<T>
    {
        static readonly Task<bool> True = Task.FromResult(true);
        static readonly Task<bool> False = Task.FromResult(false);

        readonly object gate = new object();
        readonly int capacity;
        readonly Queue<T> items;
        readonly Queue<KeyValuePair<T, TaskCompletionSource<bool>>> blockedWriters =
            new Queue<KeyValuePair<T, TaskCompletionSource<bool>>>();
        TaskCompletionSource<bool> waitingReaders; // shared by all readers waiting on an empty queue
        bool completed;

        public BoundedQueue(int capacity)
        {
            if (capacity < 1) throw new ArgumentOutOfRangeException("capacity");
            this.capacity = capacity;
            items = new Queue<T>(capacity);
        }

        public Task WriteAsync(T item)
        {
            TaskCompletionSource<bool> wake;
            lock (gate)
            {
                if (completed) throw new InvalidOperationException("write to a completed queue");
                if (items.Count >= capacity)
                {
                    var blocked = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    blockedWriters.Enqueue(new KeyValuePair<T, TaskCompletionSource<bool>>(item, blocked));
                    return blocked.Task;
                }
                items.Enqueue(item);
                wake = waitingReaders;
                waitingReaders = null;
            }
            if (wake != null) wake.TrySetResult(true);
            return Task.CompletedTask;
        }

        public bool TryRead(out T item)
        {
            TaskCompletionSource<bool> unblocked = null;
            lock (gate)
            {
                if (items.Count == 0)
                {
                    item = default(T);
                    return false;
                }
                item = items.Dequeue();
                if (blockedWriters.Count > 0)
                {
                    // Move the longest-waiting writer's item into the freed slot, then release it.
                    var writer = blockedWriters.Dequeue();
                    items.Enqueue(writer.Key);
                    unblocked = writer.Value;
                }
            }
            if (unblocked != null) unblocked.TrySetResult(true);
            return true;
        }

        public Task<bool> WaitToReadAsync()
        {
            lock (gate)
            {
                if (items.Count > 0) return True;
                if (completed) return False;
                if (waitingReaders == null)
                    waitingReaders = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                return waitingReaders.Task;
            }
        }

        /// <summary>No more writes; readers drain what is buffered, then WaitToReadAsync yields false.</summary>
        public void Complete()
        {
            TaskCompletionSource<bool> wake;
            lock (gate)
            {
                if (completed) throw new InvalidOperationException("queue already completed");
                if (blockedWriters.Count > 0) throw new InvalidOperationException("complete with writes pending");
                completed = true;
                wake = waitingReaders; // only set while the queue is empty
                waitingReaders = null;
            }
            if (wake != null) wake.TrySetResult(false);
        }
    }
}
#endif
