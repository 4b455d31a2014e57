using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Conformance;

/// <summary>
/// The official ONNX backend test cases (node, simple, pytorch-converted, pytorch-operator) as an
/// oracle: every case must either match the reference outputs or be reported as unsupported by a
/// <see cref="Prova.Onnx.ModelException"/> with IsUnsupported. One fact over all cases (rather than a
/// theory row per case) because xunit 2 cannot mark a row skipped at run time: unsupported cases
/// would count as passed tests. The summary lists every failure and the skipped cases by op, and is
/// also written to artifacts/conformance-summary.txt.
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output)
{
    [Fact]
    public void OfficialBackendCasesMatchReferenceOutputsOrAreReportedUnsupported()
    {
        Assert.True(BackendTestData.CaseIds().Count > 0 || BackendTestData.Filter is not null, BackendTestData.MissingMessage);

        var report = ConformanceRunner.All();
        string summary = report.Summary();
        output.WriteLine(summary);
        string artifacts = Path.Combine(RepoFiles.Root, "artifacts");
        Directory.CreateDirectory(artifacts);
        File.WriteAllText(Path.Combine(artifacts, "conformance-summary.txt"), summary);

        Assert.True(report.Results.Count > 0, $"no case id contains \"{BackendTestData.Filter}\" ({BackendTestData.FilterVariable})");
        Assert.True(report.Failed.Count == 0,
            $"{report.Passed.Count} passed, {report.Failed.Count} failed ({report.Skipped.Count} unsupported); failures:\n{report.FailureList()}");
    }
}
