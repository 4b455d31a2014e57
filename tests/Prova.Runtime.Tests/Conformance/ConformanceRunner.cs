using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests.Conformance;

internal enum CaseOutcome
{
    Passed,
    Failed,
    Skipped,
}

/// <summary>
/// The result of one backend test case. <see cref="ThreadMismatch"/> is set when the case ran with
/// Threads=1 and Threads=2 and the output bytes differed (the determinism contract is broken).
/// </summary>
internal sealed record CaseResult(string Id, CaseOutcome Outcome, string Reason, string? SkipGroup, string? ThreadMismatch, int DataSetsCompared, TimeSpan Elapsed);

/// <summary>
/// Runs the ONNX backend test cases on Prova's engine, each once per process (the conformance test
/// and the thread-count determinism test share the results). Each case loads model.onnx, creates a
/// session with Threads=1 and one with Threads=2, and runs every test_data_set_N on both: the
/// Threads=1 outputs are compared with the reference outputs, the Threads=2 outputs byte for byte
/// with the Threads=1 outputs.
/// </summary>
internal static partial class ConformanceRunner
{
    /// <summary>A case that takes longer than this is reported as a hang (the models are tiny).</summary>
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(60);

    private static readonly ConcurrentDictionary<string, Lazy<CaseResult>> s_cache = new(StringComparer.Ordinal);
    private static readonly Lazy<ConformanceReport> s_all = new(RunAll, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>All cases (the installed data, after <see cref="BackendTestData.Filter"/>), run once per process.</summary>
    public static ConformanceReport All() => s_all.Value;

    public static CaseResult Get(string id) => s_cache.GetOrAdd(id, k => new Lazy<CaseResult>(() => RunWithTimeout(k))).Value;

    private static ConformanceReport RunAll()
    {
        var clock = Stopwatch.StartNew();
        var ids = BackendTestData.CaseIds();
        var results = new List<CaseResult>(ids.Count);
        foreach (var id in ids)
        {
            results.Add(Get(id));
        }
        return new ConformanceReport(results, clock.Elapsed);
    }

    private static CaseResult RunWithTimeout(string id)
    {
        var clock = Stopwatch.StartNew();
        // A dedicated thread per case, so a hanging kernel costs one case, not the whole test run.
        var task = Task.Factory.StartNew(() => RunCase(id), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!task.Wait(CaseTimeout))
        {
            return new CaseResult(id, CaseOutcome.Failed, $"did not finish within {CaseTimeout.TotalSeconds} s (a hang or a pathological slowdown)", null, null, 0, clock.Elapsed);
        }
        return task.Result with { Elapsed = clock.Elapsed };
    }

    private static CaseResult RunCase(string id)
    {
        string dir = BackendTestData.CaseDirectory(id);
        string stage = "loading model.onnx";
        string? threadMismatch = null;
        int compared = 0;
        try
        {
            var model = OnnxLoader.Load(Path.Combine(dir, "model.onnx"));
            stage = "creating the session (Threads=1)";
            using var one = new InferenceSession(model, new SessionOptions { Threads = 1 });
            stage = "creating the session (Threads=2)";
            using var two = new InferenceSession(model, new SessionOptions { Threads = 2 });
            var sets = BackendTestData.DataSets(dir);
            if (sets.Count == 0)
            {
                return new CaseResult(id, CaseOutcome.Failed, "no test_data_set_N directory", null, null, 0, TimeSpan.Zero);
            }
            foreach (var set in sets)
            {
                string setName = Path.GetFileName(set);
                stage = $"reading {setName}/input_*.pb";
                var feeds = ReadInputs(model, set);
                stage = $"reading {setName}/output_*.pb";
                var expected = ReadExpected(model, set);
                stage = $"running {setName} (Threads=1)";
                var actual = one.Run(feeds);
                foreach (var (name, want) in expected)
                {
                    if (!actual.TryGetValue(name, out var got))
                    {
                        return new CaseResult(id, CaseOutcome.Failed, $"{setName}: output '{name}' missing from the results", null, threadMismatch, compared, TimeSpan.Zero);
                    }
                    if (TensorComparer.Difference(want, got) is { } difference)
                    {
                        return new CaseResult(id, CaseOutcome.Failed, $"{setName}: output '{name}': {difference}", null, threadMismatch, compared, TimeSpan.Zero);
                    }
                }
                stage = $"running {setName} (Threads=2)";
                var again = two.Run(feeds);
                threadMismatch ??= ThreadDifference(setName, actual, again);
                compared++;
            }
            return new CaseResult(id, CaseOutcome.Passed, "", null, threadMismatch, compared, TimeSpan.Zero);
        }
        catch (ModelException ex) when (ex.IsUnsupported)
        {
            return new CaseResult(id, CaseOutcome.Skipped, $"{stage}: {ex.Message}", SkipGroup(ex.Message), threadMismatch, compared, TimeSpan.Zero);
        }
        catch (Exception ex)
        {
            return new CaseResult(id, CaseOutcome.Failed, $"{stage}: {ex.GetType().Name}: {ex.Message}", null, threadMismatch, compared, TimeSpan.Zero);
        }
    }

    /// <summary>The inputs of one data set, keyed by graph input name (by position when the .pb has no matching name).</summary>
    private static Dictionary<string, Tensor> ReadInputs(OnnxModel model, string set)
    {
        var graphInputs = model.Graph.Inputs;
        var files = BackendTestData.IndexedFiles(set, "input");
        if (files.Count != graphInputs.Count)
        {
            throw new InvalidDataException($"the data set has {files.Count} inputs but the loaded graph declares {graphInputs.Count} ({string.Join(", ", graphInputs)})");
        }
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++)
        {
            var (name, value) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(files[i]));
            feeds[graphInputs.Exists(g => g.Name == name) ? name : graphInputs[i].Name] = value;
        }
        return feeds;
    }

    private static List<(string Name, Tensor Value)> ReadExpected(OnnxModel model, string set)
    {
        var graphOutputs = model.Graph.Outputs;
        var files = BackendTestData.IndexedFiles(set, "output");
        if (files.Count == 0 || files.Count > graphOutputs.Count)
        {
            throw new InvalidDataException($"the data set has {files.Count} expected outputs but the loaded graph declares {graphOutputs.Count}");
        }
        var expected = new List<(string, Tensor)>(files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            var (name, value) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(files[i]));
            expected.Add((graphOutputs.Exists(g => g.Name == name) ? name : graphOutputs[i].Name, value));
        }
        return expected;
    }

    private static string? ThreadDifference(string setName, Dictionary<string, Tensor> one, Dictionary<string, Tensor> two)
    {
        foreach (var (name, a) in one)
        {
            var b = two[name];
            if (a.Type != b.Type || !a.Shape.SequenceEqual(b.Shape) || !a.Bytes().SequenceEqual(b.Bytes()))
            {
                return $"{setName}: output '{name}' differs between Threads=1 and Threads=2 (hash {TensorEncoding.Hash(a)[..16]} vs {TensorEncoding.Hash(b)[..16]})";
            }
        }
        return null;
    }

    /// <summary>The op an "unsupported" message names ("node 'x' (Op): not supported: ..."), else the message itself.</summary>
    private static string SkipGroup(string message)
    {
        var match = NodeOpPattern().Match(message);
        return match.Success ? match.Groups["op"].Value : QuotedName().Replace(message, "'…'");
    }

    [GeneratedRegex("'[^']*'")]
    private static partial Regex QuotedName();

    [GeneratedRegex(@"\((?<op>[A-Za-z0-9_.]+)\): not supported:")]
    private static partial Regex NodeOpPattern();
}

/// <summary>The outcome of the whole conformance run and its printable summary.</summary>
internal sealed class ConformanceReport(List<CaseResult> results, TimeSpan elapsed)
{
    public List<CaseResult> Results { get; } = results;

    public TimeSpan Elapsed { get; } = elapsed;

    public List<CaseResult> Passed => Results.FindAll(r => r.Outcome == CaseOutcome.Passed);

    public List<CaseResult> Failed => Results.FindAll(r => r.Outcome == CaseOutcome.Failed);

    public List<CaseResult> Skipped => Results.FindAll(r => r.Outcome == CaseOutcome.Skipped);

    public List<CaseResult> ThreadMismatches => Results.FindAll(r => r.ThreadMismatch is not null);

    public string FailureList()
    {
        var text = new StringBuilder();
        foreach (var r in Failed)
        {
            text.Append("  ").Append(r.Id).Append(": ").AppendLine(r.Reason);
        }
        return text.ToString();
    }

    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine($"ONNX backend conformance: {Results.Count} cases from {BackendTestData.Root}/{{{string.Join(",", BackendTestData.Suites)}}}" +
            (BackendTestData.Filter is { } f ? $" (only ids containing \"{f}\", from {BackendTestData.FilterVariable})" : ""));
        text.AppendLine($"{Passed.Count} passed, {Failed.Count} failed");
        text.AppendLine($"{Skipped.Count} skipped (valid ONNX that Prova reports as unsupported)");
        text.AppendLine($"tolerance: |actual - expected| <= {TensorComparer.AbsoluteTolerance} + {TensorComparer.RelativeTolerance} * |expected|; integers and booleans exact; took {Elapsed.TotalSeconds:F1} s");
        int compared = Passed.Count;
        text.AppendLine($"thread-count determinism: {compared} passing cases run with Threads=1 and Threads=2, {ThreadMismatches.Count} with different output bytes");
        text.AppendLine();
        text.AppendLine($"Failed ({Failed.Count}):");
        text.Append(FailureList());
        if (ThreadMismatches.Count > 0)
        {
            text.AppendLine();
            text.AppendLine($"Different bytes with Threads=1 and Threads=2 ({ThreadMismatches.Count}):");
            foreach (var r in ThreadMismatches)
            {
                text.Append("  ").Append(r.Id).Append(": ").AppendLine(r.ThreadMismatch);
            }
        }
        text.AppendLine();
        text.AppendLine($"Skipped as unsupported ({Skipped.Count}), by op:");
        var groups = Skipped.GroupBy(r => r.SkipGroup ?? "?", StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            text.Append("  ").Append(group.Key).Append(" (").Append(group.Count()).Append("): ")
                .AppendLine(string.Join(", ", group.Select(r => r.Id[(r.Id.IndexOf('/') + 1)..])));
            foreach (var reason in group.Select(r => ReasonWithoutNode(r.Reason)).Distinct(StringComparer.Ordinal).Take(3))
            {
                text.Append("      ").AppendLine(reason);
            }
        }
        return text.ToString();
    }

    /// <summary>The part of a skip reason after "not supported:", which is usually the same across cases.</summary>
    private static string ReasonWithoutNode(string reason)
    {
        int at = reason.IndexOf("not supported:", StringComparison.Ordinal);
        return at >= 0 ? reason[at..] : reason;
    }
}
