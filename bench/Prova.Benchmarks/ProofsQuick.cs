// `dotnet run -c Release -- proofs [threads]`: Stopwatch medians for the proof system's core
// (field, NTT, sumcheck, Ligero PCS). Threads (default: all) caps Parallel.For in the PCS and sumcheck.
using System.Diagnostics;
using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Sumcheck;
using Prova.Proofs.Transcript;

namespace Prova.Benchmarks;

internal static class ProofsQuick
{
    public static void Run(string[] args)
    {
        if (args.Length > 1 && int.TryParse(args[1], out int threads))
        {
            ThreadPool.SetMaxThreads(threads, threads);
            ThreadPool.SetMinThreads(threads, threads);
            Console.WriteLine($"(thread pool capped at {threads})");
        }
        Console.WriteLine($"{"benchmark",-32} {"wall med",10} {"cpu med",10} {"wall min",10}");
        var rng = new Random(7);
        Fp[] Rand(int n)
        {
            var a = new Fp[n];
            for (int i = 0; i < n; i++)
            {
                a[i] = Fp.FromUInt64((ulong)rng.NextInt64());
            }
            return a;
        }

        // Fp mul throughput: 4 independent chains of 2^20 muls.
        var xs = Rand(8);
        Report("Fp mul (ns/op)", 15, () =>
        {
            Fp a = xs[0], b = xs[1], c = xs[2], d = xs[3];
            Fp m = xs[4];
            for (int i = 0; i < 1 << 20; i++)
            {
                a *= m;
                b *= m;
                c *= m;
                d *= m;
            }
            xs[5] = a + b + c + d;
        }, 4 << 20);
        var ys = new Fp2[] { new(xs[0], xs[1]), new(xs[2], xs[3]) };
        Report("Fp2 mul (ns/op)", 15, () =>
        {
            Fp2 a = ys[0], b = ys[1];
            for (int i = 0; i < 1 << 20; i++)
            {
                a *= b;
            }
            ys[0] = a;
        }, 1 << 20);

        foreach (int log in new[] { 16, 20 })
        {
            var v = Rand(1 << log);
            Report($"NTT 2^{log} (ms)", log == 16 ? 30 : 7, () => Ntt.Forward(v));
        }

        foreach (int log in new[] { 16, 20 })
        {
            var f = Rand(1 << log);
            var g = Rand(1 << log);
            Report($"sumcheck f·g 2^{log} (ms)", log == 16 ? 20 : 5, () =>
            {
                using var t = new ProofTranscript("bench");
                SumcheckProver.ProveProduct(t, [f, g]);
            });
            var eqPoint = new Fp2[log];
            for (int i = 0; i < log; i++)
            {
                eqPoint[i] = new Fp2(Rand(1)[0], Rand(1)[0]);
            }
            Report($"sumcheck eq·f·g 2^{log} (ms)", log == 16 ? 20 : 5, () =>
            {
                using var t = new ProofTranscript("bench");
                SumcheckProver.ProveProduct(t, [f, g], eqPoint);
            });
        }

        foreach (int log in new[] { 16, 20 })
        {
            var poly = Rand(1 << log);
            int reps = log == 16 ? 20 : 5;
            LigeroCommitted? committed = null;
            Report($"PCS commit 2^{log} (ms)", reps, () => committed = LigeroPcs.Commit([poly]));
            Fp2[] z = [];
            LigeroOpening? opening = null;
            Fp2[] values = [];
            Report($"PCS open 2^{log} (ms)", reps, () =>
            {
                using var t = new ProofTranscript("bench");
                committed!.Commitment.AbsorbInto(t);
                z = t.ChallengeFp2s("z", log);
                opening = LigeroPcs.Open(t, committed, [z], out values);
            });
            Report($"PCS verify 2^{log} (ms)", reps * 2, () =>
            {
                using var t = new ProofTranscript("bench");
                committed!.Commitment.AbsorbInto(t);
                t.ChallengeFp2s("z", log);
                LigeroPcs.Verify(t, committed.Commitment, [z], values, opening!);
            });
            Console.WriteLine($"{"PCS opening 2^" + log + " (KiB)",-32} {opening!.ByteSize / 1024.0,10:F1}");
        }
    }

    private static void Report(string name, int reps, Action body, long ops = 0)
    {
        body();
        body();
        var times = new double[reps];
        var cpu = new double[reps];
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < reps; i++)
        {
            process.Refresh();
            var c0 = process.TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            body();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            process.Refresh();
            cpu[i] = (process.TotalProcessorTime - c0).TotalMilliseconds;
        }
        Array.Sort(times);
        Array.Sort(cpu);
        double scale = ops > 0 ? 1e6 / ops : 1;
        // Wall-clock median, CPU-time median (all threads) and the minimum wall time: on a shared
        // machine the CPU time and the minimum are the better estimates of the unloaded cost.
        Console.WriteLine($"{name,-32} {times[reps / 2] * scale,10:F2} {cpu[reps / 2] * scale,10:F2} {times[0] * scale,10:F2}");
    }
}
