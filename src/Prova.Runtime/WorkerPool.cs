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
    private readonly ManualResetEventSlim _wake = new(false);
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
            _wake.Reset();
            _body = body;
            _count = count;
            _chunk = chunk;
            _error = null;
            Volatile.Write(ref _remaining, chunks);
            long job = (Volatile.Read(ref _cursor) >> 32) + 1;
            Interlocked.Exchange(ref _cursor, job << 32);
            if (Volatile.Read(ref _sleepers) > 0)
            {
                _wake.Set();
            }
            RunChunks(job);
            var spinner = new SpinWait();
            while (Volatile.Read(ref _remaining) > 0)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            // A set event would let sleeping workers run straight through Wait until the next job:
            // an idle pool must not keep a core busy.
            _wake.Reset();
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
                if (!HasWork(lastJob, out job) && !_disposed)
                {
                    _wake.Wait();
                }
                Interlocked.Decrement(ref _sleepers);
                continue;
            }
            lastJob = job;
            RunChunks(job);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _wake.Set();
        foreach (var worker in _workers)
        {
            worker.Join();
        }
        _wake.Dispose();
    }
}
