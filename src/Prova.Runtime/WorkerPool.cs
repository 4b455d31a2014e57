using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Prova.Runtime;

/// <summary>A unit of parallel work: process the index range [begin, end).</summary>
public interface IRangeBody
{
    void Execute(int begin, int end);
}

/// <summary>
/// A small fork-join pool: the calling thread plus Threads-1 dedicated workers share the chunks of
/// one range at a time. Workers spin briefly between jobs (inference issues many small jobs in a
/// row) and then sleep. Kernels must compute every index the same way whichever thread runs it,
/// so results never depend on the thread count or the chunking.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private static readonly long s_spinTicks = Stopwatch.Frequency / 20_000; // ~50 µs

    private readonly Thread[] _workers;
    // Counted wake-ups: a release is never lost, unlike a Set that the caller Resets before a slow-waking
    // worker has seen it (that left the worker asleep through every short job, so 2 threads ran as 1).
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Lock _callerLock = new();

    // High 32 bits: job id; low 32 bits: next index to claim. One CAS claims a chunk of the current job only.
    private long _cursor;
    private IRangeBody? _body;
    private int _count;
    private int _chunk;
    private int _remaining;
    private int _sleepers;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _error;

    public WorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "a pool needs at least one thread");
        }
        Threads = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"prova-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>
    /// Runs body over <paramref name="rows"/> rows of <paramref name="rowLength"/> elements each: on this thread when the
    /// work is under <paramref name="parallelElements"/> elements or there is one row, else in chunks of about half that
    /// many elements. Rows are independent, so the split changes nothing but speed.
    /// </summary>
    public void ForRows(int rows, long rowLength, IRangeBody body, long parallelElements = 1 << 15)
    {
        long work = rows * rowLength;
        if (Threads > 1 && work >= parallelElements && rows > 1)
        {
            For(rows, body, (int)Math.Max(1, rows * (parallelElements / 2) / work));
        }
        else
        {
            body.Execute(0, rows);
        }
    }

    /// <summary>Runs body over [0, count) in chunks of at least <paramref name="grain"/> indices.</summary>
    public void For(int count, IRangeBody body, int grain = 1)
    {
        if (count <= 0)
        {
            return;
        }
        grain = Math.Max(1, grain);
        if (Threads == 1 || count <= grain)
        {
            body.Execute(0, count);
            return;
        }
        lock (_callerLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Several chunks per thread balance uneven cores; never smaller than the grain.
            // long arithmetic: count may be close to int.MaxValue.
            int chunk = (int)Math.Max(grain, ((long)count + Threads * 4 - 1) / (Threads * 4));
            int chunks = (int)(((long)count + chunk - 1) / chunk);
            _body = body;
            _count = count;
            _chunk = chunk;
            _error = null;
            Volatile.Write(ref _remaining, chunks);
            long job = (Volatile.Read(ref _cursor) >> 32) + 1;
            Interlocked.Exchange(ref _cursor, job << 32);
            // Claim every registered sleeper and give each exactly one release.
            int sleepers = Interlocked.Exchange(ref _sleepers, 0);
            if (sleepers > 0)
            {
                _wake.Release(sleepers);
            }
            RunChunks(job);
            var spinner = new SpinWait();
            while (Volatile.Read(ref _remaining) > 0)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            _body = null;
            _error?.Throw();
        }
    }

    private void RunChunks(long job)
    {
        while (true)
        {
            long cursor = Volatile.Read(ref _cursor);
            if (cursor >> 32 != job)
            {
                return;
            }
            int begin = (int)(cursor & 0xFFFF_FFFF);
            int count = _count;
            if (begin >= count)
            {
                return;
            }
            int end = (int)Math.Min(count, (long)begin + _chunk);
            if (Interlocked.CompareExchange(ref _cursor, (job << 32) | (uint)end, cursor) != cursor)
            {
                continue;
            }
            try
            {
                _body!.Execute(begin, end);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(ex), null);
            }
            Interlocked.Decrement(ref _remaining);
        }
    }

    private bool HasWork(long lastJob, out long job)
    {
        long cursor = Volatile.Read(ref _cursor);
        job = cursor >> 32;
        return job != lastJob;
    }

    private void WorkerLoop()
    {
        long lastJob = 0;
        while (!_disposed)
        {
            long start = Stopwatch.GetTimestamp();
            long job;
            while (!HasWork(lastJob, out job) && Stopwatch.GetTimestamp() - start < s_spinTicks && !_disposed)
            {
                Thread.SpinWait(20);
            }
            if (job == lastJob)
            {
                Interlocked.Increment(ref _sleepers);
                if ((HasWork(lastJob, out job) || _disposed) && TryUnregister())
                {
                    continue;
                }
                _wake.Wait(); // also consumes the release meant for us when a caller claimed us first
                continue;
            }
            lastJob = job;
            RunChunks(job);
        }
    }

    /// <summary>Takes back one sleeper registration; false when a caller already claimed it (a release is on its way).</summary>
    private bool TryUnregister()
    {
        while (true)
        {
            int s = Volatile.Read(ref _sleepers);
            if (s == 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _sleepers, s - 1, s) == s)
            {
                return true;
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_workers.Length > 0)
        {
            _wake.Release(_workers.Length);
        }
        foreach (var worker in _workers)
        {
            worker.Join();
        }
        _wake.Dispose();
    }
}
