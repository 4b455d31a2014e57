using System.Diagnostics;
using System.Text;

namespace Prova.Cli.Tests;

internal sealed record CliResult(int ExitCode, string Out, string Err)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
}

/// <summary>Runs the prova CLI in-process (fast) or as a real child process (<c>dotnet prova.dll</c>).</summary>
internal static class CliHarness
{
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = ProvaCli.Run(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the CLI in-process with <paramref name="stdin"/> as its standard input (what a user types).</summary>
    public static CliResult RunWithInput(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = ProvaCli.Run(args, stdout, stderr, new StringReader(stdin));
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The built prova.dll: the test project references Prova.Cli, so it is copied beside the tests.</summary>
    public static string ProvaDll
    {
        get
        {
            string path = Path.Combine(AppContext.BaseDirectory, "prova.dll");
            Assert.True(File.Exists(path), $"prova.dll not found next to the tests ({path})");
            Assert.True(File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")), "prova.runtimeconfig.json missing next to the tests");
            return path;
        }
    }

    /// <summary>
    /// Starts <c>dotnet prova.dll args</c>. <paramref name="env"/> entries are set (or removed when
    /// the value is null); the DOTNET_Enable* switches of this process are never inherited.
    /// </summary>
    public static CliResult RunProcess(string[] args, IReadOnlyDictionary<string, string?>? env = null, int timeoutMs = 120_000)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(ProvaDll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        foreach (var key in start.Environment.Keys.ToArray())
        {
            if (key.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase) || key.StartsWith("COMPlus_Enable", StringComparison.OrdinalIgnoreCase))
            {
                start.Environment.Remove(key);
            }
        }
        if (env is not null)
        {
            foreach (var (key, value) in env)
            {
                if (value is null)
                {
                    start.Environment.Remove(key);
                }
                else
                {
                    start.Environment[key] = value;
                }
            }
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutMs))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"prova {string.Join(' ', args)} did not finish within {timeoutMs} ms");
        }
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A temporary directory removed after the test.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("prova-cli-tests-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
