using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Determinism;

/// <summary>
/// Stress tests of <see cref="WorkerPool"/>: every index of every job runs exactly once, in chunks
/// of at least the grain, whatever the thread count; exceptions reach the caller; the pool survives
/// many tiny jobs back to back, concurrent callers and errors.
/// </summary>
public sealed class WorkerPoolTests(ITestOutputHelper output)
{
    /// <summary>Counts how often each index ran and records the chunks.</summary>
    private sealed class CountingBody(int count) : IRangeBody
    {
        public int[] Hits { get; } = new int[count];

        public List<(int Begin, int End)> Chunks { get; } = [];

        public void Execute(int begin, int end)
        {
            lock (Chunks)
            {
                Chunks.Add((begin, end));
            }
            for (int i = begin; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
            }
        }
    }

    private sealed class ThrowingBody(int badIndex) : IRangeBody
    {
        public int Executed;

        public void Execute(int begin, int end)
        {
            Interlocked.Add(ref Executed, end - begin);
            if (begin <= badIndex && badIndex < end)
            {
                throw new InvalidOperationException($"index {badIndex} is bad");
            }
        }
    }

    /// <summary>Writes a value computed from the index alone, with a per-index reduction loop.</summary>
    private sealed class FormulaBody(float[] results) : IRangeBody
    {
        public void Execute(int begin, int end)
        {
            for (int i = begin; i < end; i++)
            {
                float acc = 0;
                for (int k = 1; k <= 64; k++)
                {
                    acc = MathF.FusedMultiplyAdd(1f / (i + k), k * 0.37f, acc);
                }
                results[i] = acc;
            }
        }
    }

    private sealed class RangeSumBody : IRangeBody
    {
        public long Covered;
        public long MinBegin = long.MaxValue;
        public long MaxEnd = long.MinValue;

        public void Execute(int begin, int end)
        {
            lock (this)
            {
                Covered += (long)end - begin;
                MinBegin = Math.Min(MinBegin, begin);
                MaxEnd = Math.Max(MaxEnd, end);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void ManySmallJobsRunEveryIndexExactlyOnceInChunksOfAtLeastTheGrain(int threads)
    {
        const int Seed = 20240601;
        output.WriteLine($"seed {Seed}, threads {threads}");
        var rng = new Random(Seed);
        using var pool = new WorkerPool(threads);
        for (int job = 0; job < 2000; job++)
        {
            int count = rng.Next(0, 300);
            int grain = rng.Next(1, 40);
            var body = new CountingBody(count);
            pool.For(count, body, grain);
            for (int i = 0; i < count; i++)
            {
                Assert.True(body.Hits[i] == 1, $"job {job} (count {count}, grain {grain}): index {i} ran {body.Hits[i]} times");
            }
            var chunks = body.Chunks.OrderBy(c => c.Begin).ToList();
            for (int c = 0; c < chunks.Count; c++)
            {
                bool last = chunks[c].End == count;
                Assert.True(last || chunks[c].End - chunks[c].Begin >= grain,
                    $"job {job} (count {count}, grain {grain}): chunk [{chunks[c].Begin}, {chunks[c].End}) is smaller than the grain");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void AnExceptionInABodyReachesTheCallerAndThePoolKeepsWorking(int threads)
    {
        using var pool = new WorkerPool(threads);
        for (int round = 0; round < 50; round++)
        {
            var bad = new ThrowingBody(badIndex: 37 + round);
            var ex = Assert.Throws<InvalidOperationException>(() => pool.For(1000, bad, grain: 8));
            Assert.Equal($"index {37 + round} is bad", ex.Message);

            var good = new CountingBody(1000);
            pool.For(1000, good, grain: 8);
            Assert.All(good.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void ResultsDoNotDependOnThreadCountOrGrain()
    {
        const int Count = 30_011;
        var reference = new float[Count];
        new FormulaBody(reference).Execute(0, Count);
        foreach (int threads in new[] { 1, 2, 3, 4, 7 })
        {
            using var pool = new WorkerPool(threads);
            foreach (int grain in new[] { 1, 97, 4096, Count })
            {
                var results = new float[Count];
                pool.For(Count, new FormulaBody(results), grain);
                Assert.True(reference.AsSpan().SequenceEqual(results), $"threads {threads}, grain {grain}: results differ from the sequential run");
            }
        }
    }

    [Fact]
    public void ConcurrentCallersOnOnePoolEachGetTheirWholeRange()
    {
        using var pool = new WorkerPool(3);
        var failures = new List<string>();
        var callers = Enumerable.Range(0, 4).Select(c => new Thread(() =>
        {
            for (int job = 0; job < 500; job++)
            {
                var body = new CountingBody(200 + c);
                pool.For(body.Hits.Length, body, grain: 4);
                if (body.Hits.Any(h => h != 1))
                {
                    lock (failures)
                    {
                        failures.Add($"caller {c}, job {job}");
                    }
                }
            }
        })).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void HugeRangesAreCoveredExactlyWithoutOverflow(int threads)
    {
        using var pool = new WorkerPool(threads);
        foreach (int grain in new[] { 1 << 20, int.MaxValue / 3, int.MaxValue - 1 })
        {
            var body = new RangeSumBody();
            pool.For(int.MaxValue, body, grain);
            Assert.Equal(int.MaxValue, body.Covered);
            Assert.Equal(0, body.MinBegin);
            Assert.Equal(int.MaxValue, body.MaxEnd);
        }
    }

    [Fact]
    public void ADisposedPoolRefusesWork()
    {
        var pool = new WorkerPool(2);
        pool.Dispose();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.For(1000, new CountingBody(1000), grain: 1));
    }

    [Fact]
    public void APoolNeedsAtLeastOneThread()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0));
    }
}

/// <summary>CPU use of an idle pool; alone in a non-parallel collection so process CPU time measures only the pool.</summary>
[Collection("SimdLevel")]
public sealed class IdleWorkerPoolTests(ITestOutputHelper output)
{
    private sealed class SumBody : IRangeBody
    {
        public long Sum;

        public void Execute(int begin, int end) => Interlocked.Add(ref Sum, end - begin);
    }

    [Fact]
    public void AnIdlePoolDoesNotKeepACoreBusy()
    {
        // Regression: a job that woke a sleeping worker left the wake event set, so that worker ran
        // straight through Wait and spun until the next job, burning a core while the pool was idle.
        using var pool = new WorkerPool(2);
        var body = new SumBody();
        for (int i = 0; i < 5; i++)
        {
            Thread.Sleep(20); // long enough for the worker to stop spinning and sleep
            pool.For(1 << 12, body, grain: 1);
        }
        Thread.Sleep(20);
        var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        Thread.Sleep(400);
        process.Refresh();
        double cpuMs = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        output.WriteLine($"process CPU while the pool was idle: {cpuMs:0} ms over {wall.ElapsedMilliseconds} ms");
        // A spinning worker accounts for about the whole 400 ms; this class runs alone (non-parallel
        // collection), so only the pool's own threads are busy here.
        Assert.True(cpuMs < 350, $"the idle pool used {cpuMs:0} ms of CPU in {wall.ElapsedMilliseconds} ms");
    }
}
