using System.Globalization;
using System.Text;

namespace Prova.Compare;

/// <summary>Console lines and the markdown section for docs/benchmarks.md.</summary>
public static class Report
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static string ConsoleLine(Row r)
        => string.Create(s_inv, $"{r.Model,-12} batch {r.Batch,3}  threads {r.Threads}  Prova {Ms(r.Prova),10}  ORT {Ms(r.Ort),10}  ratio {Ratio(r),7}  {Agree(r)}")
           + (r.ProvaError is null ? "" : $"\n    Prova: {r.ProvaError}")
           + (r.OrtError is null || r.OrtError == r.ProvaError ? "" : $"\n    ORT: {r.OrtError}");

    public static string Markdown(IReadOnlyList<Row> rows, MachineInfo machine, Options options, string ortVersion, string nodeVersion, IReadOnlyList<ProfileResult> profiles)
    {
        var sb = new StringBuilder();
        if (rows.Count == 0)
        {
            sb.AppendLine(string.Create(s_inv, $"## Per-op profiles ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {machine.CpuModel}, {machine.LogicalCpus} logical CPUs, {machine.DotNet}, ONNX Runtime {ortVersion})"));
            sb.AppendLine();
            foreach (var p in profiles)
            {
                sb.Append(Profile(p));
            }
            return sb.ToString();
        }
        var box = options.TimeBox;
        sb.AppendLine("## Engine vs ONNX Runtime");
        sb.AppendLine();
        sb.AppendLine(string.Create(s_inv, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC with `bench/run-compare.sh`{(options.Quick ? " (`--quick` smoke run: few iterations, numbers are rough)" : "")}."));
        sb.AppendLine();
        sb.AppendLine($"- Machine: {machine.CpuModel}, {machine.LogicalCpus} logical CPUs; {machine.Os}; SIMD: {machine.Simd}.");
        sb.AppendLine($"- Prova: {machine.DotNet}, in-process `InferenceSession` (`SessionOptions.Threads` = threads), model loaded from the same .onnx file.");
        sb.AppendLine($"- ONNX Runtime {ortVersion} (npm `onnxruntime-node`, CPU execution provider, Node {nodeVersion}): `intraOpNumThreads` = threads, "
            + "`interOpNumThreads` 1, `executionMode` sequential, `graphOptimizationLevel` all.");
        sb.AppendLine(string.Create(s_inv, $"- Latency of one `Run` call (input copy and output tensors included, for both engines), median and p99 over ≥ {box.MinIters} runs and ≥ {box.MinSeconds:0.#} s (at most {box.MaxSeconds:0.#} s) after warm-up; rows run one after another, never both engines at once."));
        sb.AppendLine(string.Create(s_inv, $"- Outputs agree: every element within atol {Agreement.Atol:0.#e0} + rtol {Agreement.Rtol:0.#e0} × |ORT| (max abs difference in brackets). Same model file and same input file for both engines; seeded He-uniform weights, symbolic batch dim."));
        sb.AppendLine();
        sb.AppendLine("| model | batch | threads | Prova median ms | Prova p99 ms | ORT median ms | ORT p99 ms | ratio Prova/ORT | outputs agree |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|:---:|");
        foreach (var r in rows)
        {
            sb.AppendLine(string.Create(s_inv,
                $"| {r.Model} | {r.Batch} | {r.Threads} | {Ms(r.Prova)} | {P99(r.Prova)} | {Ms(r.Ort)} | {P99(r.Ort)} | {Ratio(r)} | {Agree(r)} |"));
        }
        sb.AppendLine();
        var ratios = rows.Where(r => r.Ratio is not null).Select(r => r.Ratio!.Value).ToList();
        if (ratios.Count > 0)
        {
            double geo = Math.Exp(ratios.Average(Math.Log));
            var worst = rows.Where(r => r.Ratio is not null).OrderByDescending(r => r.Ratio).First();
            var best = rows.Where(r => r.Ratio is not null).OrderBy(r => r.Ratio).First();
            sb.AppendLine(string.Create(s_inv, $"Geometric mean ratio Prova/ORT: **{geo:0.00}×** over {ratios.Count} rows; {ratios.Count(x => x <= 1)} rows at or under 1×, {ratios.Count(x => x <= 2)} at or under 2×. Worst: {worst.Model} batch {worst.Batch} threads {worst.Threads} ({worst.Ratio:0.00}×); best: {best.Model} batch {best.Batch} threads {best.Threads} ({best.Ratio:0.00}×)."));
            sb.AppendLine();
        }
        var failures = rows.Where(r => r.ProvaError is not null || r.OrtError is not null).ToList();
        if (failures.Count > 0)
        {
            sb.AppendLine("Rows that did not run:");
            sb.AppendLine();
            foreach (var r in failures)
            {
                sb.AppendLine($"- {r.Model} batch {r.Batch} threads {r.Threads}: " + (r.ProvaError is null ? "" : $"Prova: {Escape(r.ProvaError)}. ")
                    + (r.OrtError is null ? "" : $"ORT: {Escape(r.OrtError)}."));
            }
            sb.AppendLine();
        }
        foreach (var p in profiles)
        {
            sb.Append(Profile(p));
        }
        return sb.ToString();
    }

    public static string Profile(ProfileResult p)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(s_inv, $"### Per-op profile: {p.Model}, batch {p.Batch}, threads {p.Threads}"));
        sb.AppendLine();
        if (p.Error is not null)
        {
            sb.AppendLine($"Not available: {Escape(p.Error)}");
            sb.AppendLine();
            return sb.ToString();
        }
        sb.AppendLine("Each node run alone as a one-node model on its real input (so no fusion on either side; ORT fuses across nodes in the full model).");
        sb.AppendLine();
        // Only nodes both engines ran count towards sums and ratios.
        var both = p.Ops.Where(o => o.Prova is not null && o.Ort is not null).ToList();
        double provaTotal = both.Sum(o => o.Prova!.MedianMs);
        double ortTotal = both.Sum(o => o.Ort!.MedianMs);
        sb.AppendLine("| op type | nodes | Prova ms | ORT ms | ratio Prova/ORT | share of Prova time |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var g in both.GroupBy(o => o.OpType).OrderByDescending(g => g.Sum(o => o.Prova!.MedianMs)))
        {
            double pv = g.Sum(o => o.Prova!.MedianMs);
            double ov = g.Sum(o => o.Ort!.MedianMs);
            sb.AppendLine(string.Create(s_inv, $"| {g.Key} | {g.Count()} | {pv:0.000} | {ov:0.000} | {RatioText(pv, ov)} | {(provaTotal > 0 ? pv / provaTotal : 0):P0} |"));
        }
        sb.AppendLine(string.Create(s_inv, $"| **sum** | {both.Count} | {provaTotal:0.000} | {ortTotal:0.000} | {RatioText(provaTotal, ortTotal)} | |"));
        sb.AppendLine();
        sb.AppendLine("Slowest nodes in Prova:");
        sb.AppendLine();
        sb.AppendLine("| node | op | input shapes | Prova ms | ORT ms | ratio Prova/ORT |");
        sb.AppendLine("|---|---|---|---:|---:|---:|");
        foreach (var o in both.OrderByDescending(o => o.Prova!.MedianMs).Take(10))
        {
            sb.AppendLine(string.Create(s_inv, $"| {o.Node} | {o.OpType} | {o.Shapes} | {o.Prova!.MedianMs:0.000} | {o.Ort!.MedianMs:0.000} | {RatioText(o.Prova.MedianMs, o.Ort.MedianMs)} |"));
        }
        var missing = p.Ops.Where(o => o.Prova is null || o.Ort is null).ToList();
        if (missing.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine($"Not timed on both engines ({missing.Count} nodes): "
                + string.Join("; ", missing.GroupBy(o => o.OpType).Select(g => $"{g.Key} ×{g.Count()} ({Escape(Shorten(g.First().Error))})")) + ".");
        }
        sb.AppendLine();
        return sb.ToString();
    }

    private static string Shorten(string? error)
    {
        if (error is null)
        {
            return "no timing";
        }
        int cut = error.IndexOf(": not supported: ", StringComparison.Ordinal);
        return cut >= 0 ? "Prova: not supported" : error.Length > 80 ? error[..80] + "…" : error;
    }

    private static string Ms(Measurement? m) => m is null ? "—" : Num(m.MedianMs);

    private static string P99(Measurement? m) => m is null ? "—" : Num(m.P99Ms);

    private static string Num(double ms) => ms switch
    {
        < 0.1 => ms.ToString("0.0000", s_inv),
        < 10 => ms.ToString("0.000", s_inv),
        _ => ms.ToString("0.0", s_inv),
    };

    private static string Ratio(Row r) => r.Ratio is { } x ? x.ToString("0.00", s_inv) + "×" : "—";

    private static string RatioText(double a, double b) => b > 0 ? (a / b).ToString("0.00", s_inv) + "×" : "—";

    private static string Agree(Row r) => r.Agreement switch
    {
        null => "—",
        { Problem: { } problem } => "✗ " + Escape(problem),
        { Ok: true } a => "✓ (" + a.MaxAbsDiff.ToString("0.0e0", s_inv) + ")",
        var a => "✗ (" + a.MaxAbsDiff.ToString("0.0e0", s_inv) + ")",
    };

    private static string Escape(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
