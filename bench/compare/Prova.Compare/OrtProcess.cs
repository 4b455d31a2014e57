using System.Diagnostics;
using System.Text.Json;

namespace Prova.Compare;

/// <summary>Result of one ONNX Runtime job, as printed by bench/ort/bench.js.</summary>
public sealed record OrtResult(bool Ok, string? Error, Measurement? Timing);

/// <summary>
/// One long-lived `node bench/ort/bench.js --serve` process: start-up (node, the ORT library) is paid
/// once, and each job is one JSON line in, one JSON line out, so rows run strictly one after another.
/// </summary>
public sealed class OrtProcess : IDisposable
{
    private readonly Process _process;

    private OrtProcess(Process process, string version, string nodeVersion)
    {
        _process = process;
        Version = version;
        NodeVersion = nodeVersion;
    }

    public string Version { get; }

    public string NodeVersion { get; }

    public static OrtProcess Start(string ortDirectory)
    {
        var script = Path.Combine(ortDirectory, "bench.js");
        if (!File.Exists(script))
        {
            throw new FileNotFoundException($"ONNX Runtime runner not found at {script}");
        }
        if (!Directory.Exists(Path.Combine(ortDirectory, "node_modules", "onnxruntime-node")))
        {
            throw new InvalidOperationException($"onnxruntime-node is not installed: run `cd {ortDirectory} && ONNXRUNTIME_NODE_INSTALL=skip npm ci` (or bench/run-compare.sh)");
        }
        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
            WorkingDirectory = ortDirectory,
        };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add("--serve");
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        var ready = process.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException("the ONNX Runtime runner exited before it was ready");
        using var doc = JsonDocument.Parse(ready);
        var root = doc.RootElement;
        return new OrtProcess(process, root.GetProperty("ortVersion").GetString() ?? "?", root.GetProperty("node").GetString() ?? "?");
    }

    /// <summary>Runs one job; <paramref name="outputsPath"/> (optional) receives the outputs as tensor JSON.</summary>
    public OrtResult Run(string modelPath, string inputsPath, int threads, TimeBox box, string? outputsPath)
    {
        var job = new Dictionary<string, object?>
        {
            ["model"] = Path.GetFullPath(modelPath),
            ["inputs"] = Path.GetFullPath(inputsPath),
            ["threads"] = threads,
            // ORT has no JIT to warm up; a few runs settle its allocator and caches.
            ["warmup"] = Math.Min(box.WarmupIters, 10),
            ["iters"] = box.MinIters,
            ["minSeconds"] = box.MinSeconds,
            ["maxSeconds"] = box.MaxSeconds,
            ["out"] = outputsPath is null ? null : Path.GetFullPath(outputsPath),
        };
        _process.StandardInput.WriteLine(JsonSerializer.Serialize(job));
        _process.StandardInput.Flush();
        var line = _process.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException("the ONNX Runtime runner exited unexpectedly");
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        if (!r.GetProperty("ok").GetBoolean())
        {
            return new OrtResult(false, r.GetProperty("error").GetString(), null);
        }
        var timing = new Measurement(
            r.GetProperty("iterations").GetInt32(),
            r.GetProperty("medianMs").GetDouble(),
            r.GetProperty("p99Ms").GetDouble(),
            r.GetProperty("minMs").GetDouble());
        return new OrtResult(true, null, timing);
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}
