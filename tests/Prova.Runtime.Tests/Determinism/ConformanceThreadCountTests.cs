using Prova.Runtime.Tests.Conformance;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Determinism;

/// <summary>Every passing ONNX backend case gives the same output bytes with one and with two threads.</summary>
public sealed class ConformanceThreadCountTests(ITestOutputHelper output)
{
    [Fact]
    public void PassingBackendCasesGiveIdenticalBytesWithOneAndTwoThreads()
    {
        Assert.True(BackendTestData.CaseIds().Count > 0 || BackendTestData.Filter is not null, BackendTestData.MissingMessage);

        var report = ConformanceRunner.All();
        var passing = report.Passed;
        var mismatches = passing.FindAll(r => r.ThreadMismatch is not null);
        int dataSets = passing.Sum(r => r.DataSetsCompared);
        output.WriteLine($"{passing.Count} passing cases ({dataSets} data sets) compared with Threads=1 and Threads=2: {mismatches.Count} differ");
        foreach (var r in mismatches)
        {
            output.WriteLine($"  {r.Id}: {r.ThreadMismatch}");
        }

        Assert.True(passing.Count > 0, "no backend case passed, so nothing was compared");
        Assert.True(mismatches.Count == 0,
            $"{mismatches.Count} cases give different bytes with 1 and 2 threads:\n" + string.Join("\n", mismatches.Select(r => $"  {r.Id}: {r.ThreadMismatch}")));
    }
}
