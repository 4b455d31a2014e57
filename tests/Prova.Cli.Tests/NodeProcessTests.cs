using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Prova.Cli.Tests;

/// <summary>The whole flow through real processes: key new, node start (child process), push, ls, pull, infer -o, verify, Ctrl+C.</summary>
public sealed class NodeProcessTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void FullFlowThroughChildProcesses()
    {
        var env = new Dictionary<string, string?> { ["PROVA_KEY_PASSWORD"] = "process-test", ["PROVA_NODE"] = null };
        string user = _dir.File("user");
        var key = CliHarness.RunProcess(["key", "new", "--data-dir", user, "--json"], env);
        Assert.True(key.ExitCode == 0, key.ToString());
        string address = JsonDocument.Parse(key.Out).RootElement.GetProperty("address").GetString()!;
        Assert.DoesNotContain("ciphertext", key.Out);
        var show = CliHarness.RunProcess(["key", "show", "--data-dir", user], env);
        Assert.True(show.ExitCode == 0 && show.Out.Contains(address), show.ToString());
        var again = CliHarness.RunProcess(["key", "new", "--data-dir", user], env);
        Assert.True(again.ExitCode == 2 && again.Err.Contains("already exists"), again.ToString());

        using var node = StartNode(_dir.File("node"), env, out string url);
        try
        {
            env["PROVA_NODE"] = url;
            var (model, inputs, _) = TestModels.Write(TestModels.Linear(), _dir, "linear");
            var push = CliHarness.RunProcess(["model", "push", model, "--name", "proc/linear", "--version", "2.0.0", "--data-dir", user, "--json"], env);
            Assert.True(push.ExitCode == 0, push.ToString());
            string cid = JsonDocument.Parse(push.Out).RootElement.GetProperty("cid").GetString()!;

            var ls = CliHarness.RunProcess(["model", "ls"], env);
            Assert.True(ls.ExitCode == 0 && ls.Out.Contains("proc/linear") && ls.Out.Contains("2.0.0"), ls.ToString());

            var pull = CliHarness.RunProcess(["model", "pull", cid, "-o", _dir.File("pulled.onnx")], env);
            Assert.True(pull.ExitCode == 0, pull.ToString());
            Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(_dir.File("pulled.onnx")));

            var infer = CliHarness.RunProcess(["infer", cid, "--input", inputs, "-o", _dir.File("result.json")], env);
            Assert.True(infer.ExitCode == 0, infer.ToString());
            Assert.Contains("verified", infer.Out);

            var verify = CliHarness.RunProcess(["verify", _dir.File("result.json"), "--model", _dir.File("pulled.onnx")], env);
            Assert.True(verify.ExitCode == 0, verify.ToString());
            Assert.Contains("re-execution", verify.Out);
        }
        finally
        {
            // Ctrl+C (SIGINT) stops the node cleanly.
            using (var kill = Process.Start("kill", ["-INT", node.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                kill.WaitForExit();
            }
            bool exited = node.WaitForExit(20_000);
            if (!exited)
            {
                node.Kill(entireProcessTree: true);
            }
            Assert.True(exited, "the node did not stop on SIGINT");
        }
        Assert.Equal(0, node.ExitCode);
    }

    private static Process StartNode(string dataDir, IReadOnlyDictionary<string, string?> env, out string url)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in new[] { CliHarness.ProvaDll, "node", "start", "--data-dir", dataDir, "--listen", "127.0.0.1:0" })
        {
            start.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env)
        {
            if (v is null)
            {
                start.Environment.Remove(k);
            }
            else
            {
                start.Environment[k] = v;
            }
        }
        var process = Process.Start(start)!;
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => errors.AppendLine(e.Data);
        process.BeginErrorReadLine();
        var read = process.StandardOutput.ReadLineAsync();
        if (!read.Wait(60_000) || read.Result is not { } line || !line.Contains(" listening on ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"node did not start: {(read.IsCompleted ? read.Result : "(timeout)")} {errors}");
            throw new InvalidOperationException();
        }
        url = line[(line.IndexOf(" listening on ", StringComparison.Ordinal) + " listening on ".Length)..].Trim();
        _ = process.StandardOutput.ReadToEndAsync();
        return process;
    }
}
