using System.Text.Json;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime;
using Xunit.Abstractions;

namespace Prova.Cli.Tests;

/// <summary>
/// The determinism contract end to end: the output hash of `prova run` must not depend on the
/// thread count or on which SIMD instruction sets the JIT may use.
/// </summary>
public sealed class DeterminismTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Models => ["cnn", "transformer"];

    [Theory]
    [MemberData(nameof(Models))]
    public void OutputHashIsIdenticalAcrossThreadsAndInstructionSets(string name)
    {
        OnnxModel model = name == "cnn" ? TestModels.Cnn() : TestModels.Transformer();
        var (modelPath, inputPath, values) = TestModels.Write(model, _dir, name);
        string expected;
        using (var session = new InferenceSession(model, new SessionOptions { Threads = 1 }))
        {
            expected = TensorEncoding.Hash(session.Run(values));
        }
        output.WriteLine($"{name}: in-process, 1 thread: {expected}");

        var configs = new List<(string Label, string[] Args, Dictionary<string, string?> Env)>
        {
            ("threads 1", ["--threads", "1"], []),
            ("threads 2", ["--threads", "2"], []),
            ("threads 3", ["--threads", "3"], []),
            // .NET 10 ignores DOTNET_EnableAVX512F (Vector512 stays accelerated); DOTNET_EnableAVX512
            // is the switch that really turns AVX-512 off there. Both are run.
            ("AVX512F=0", ["--threads", "2"], new() { ["DOTNET_EnableAVX512F"] = "0" }),
            ("AVX-512 off", ["--threads", "3"], new() { ["DOTNET_EnableAVX512"] = "0" }),
            ("AVX2 off", ["--threads", "2"], new() { ["DOTNET_EnableAVX2"] = "0" }),
            ("all SIMD off", ["--threads", "3"], new() { ["DOTNET_EnableHWIntrinsic"] = "0" }),
        };
        var failures = new List<string>();
        foreach (var (label, extra, env) in configs)
        {
            var result = CliHarness.RunProcess(["run", modelPath, "--input", inputPath, "--json", .. extra], env);
            Assert.True(result.ExitCode == 0, $"{label}: {result}");
            string hash = JsonDocument.Parse(result.Out).RootElement.GetProperty("outputHash").GetString()!;
            output.WriteLine($"{name}: {label}: {hash}");
            if (hash != expected)
            {
                failures.Add($"{label}: {hash}");
            }
        }
        Assert.True(failures.Count == 0, $"{name}: expected {expected} everywhere, but {string.Join("; ", failures)}");
    }
}
