namespace Prova.Runtime.Tests.Conformance;

/// <summary>
/// Where the official ONNX backend test cases live (Debian package libonnx-testdata, installed by
/// scripts/setup.sh) and which of them the conformance test runs. Each case is a directory with
/// model.onnx and test_data_set_N/{input_i.pb, output_i.pb}.
/// </summary>
internal static class BackendTestData
{
    /// <summary>Overrides the data root (for machines that keep the cases elsewhere).</summary>
    public const string RootVariable = "PROVA_ONNX_TESTDATA";

    /// <summary>A substring: only case ids containing it run (for debugging one op); the summary says so.</summary>
    public const string FilterVariable = "PROVA_CONFORMANCE_FILTER";

    public const string DefaultRoot = "/usr/share/libonnx-testdata/data";

    /// <summary>The suites checked; "real" (large downloaded models) is not part of the conformance set.</summary>
    public static readonly string[] Suites = ["node", "simple", "pytorch-converted", "pytorch-operator"];

    public static string Root => Environment.GetEnvironmentVariable(RootVariable) is { Length: > 0 } root ? root : DefaultRoot;

    public static string? Filter => Environment.GetEnvironmentVariable(FilterVariable) is { Length: > 0 } f ? f : null;

    public static string MissingMessage =>
        $"the ONNX backend test data is not installed (no case directories under {Root}/{{{string.Join(",", Suites)}}}); " +
        "run scripts/setup.sh (it installs the Debian package libonnx-testdata) or set " + RootVariable + " to the data directory";

    /// <summary>Case ids "suite/test_name" in ordinal order; empty when the data is not installed.</summary>
    public static List<string> CaseIds()
    {
        var ids = new List<string>();
        string? filter = Filter;
        foreach (var suite in Suites)
        {
            string dir = Path.Combine(Root, suite);
            if (!Directory.Exists(dir))
            {
                continue;
            }
            foreach (var caseDir in Directory.GetDirectories(dir))
            {
                if (!File.Exists(Path.Combine(caseDir, "model.onnx")))
                {
                    continue;
                }
                string id = suite + "/" + Path.GetFileName(caseDir);
                if (filter is null || id.Contains(filter, StringComparison.Ordinal))
                {
                    ids.Add(id);
                }
            }
        }
        ids.Sort(StringComparer.Ordinal);
        return ids;
    }

    public static string CaseDirectory(string id) => Path.Combine(Root, id);

    /// <summary>The test_data_set_N directories of a case, by N ascending.</summary>
    public static List<string> DataSets(string caseDir)
    {
        var sets = new List<(int N, string Dir)>();
        foreach (var dir in Directory.GetDirectories(caseDir, "test_data_set_*"))
        {
            if (int.TryParse(Path.GetFileName(dir)["test_data_set_".Length..], out int n))
            {
                sets.Add((n, dir));
            }
        }
        sets.Sort((a, b) => a.N.CompareTo(b.N));
        return sets.ConvertAll(s => s.Dir);
    }

    /// <summary>Files prefix_0.pb, prefix_1.pb, ... in index order, stopping at the first gap.</summary>
    public static List<string> IndexedFiles(string dataSetDir, string prefix)
    {
        var files = new List<string>();
        for (int i = 0; ; i++)
        {
            string path = Path.Combine(dataSetDir, $"{prefix}_{i}.pb");
            if (!File.Exists(path))
            {
                return files;
            }
            files.Add(path);
        }
    }
}
