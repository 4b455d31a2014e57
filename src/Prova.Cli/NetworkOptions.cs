using System.CommandLine;
using System.Text;
using Prova.Core.Keys;
using Prova.Sdk;

namespace Prova.Cli;

/// <summary>Options and helpers shared by the commands that talk to a node or use a key.</summary>
internal static class NetworkOptions
{
    public static Option<string> Node() => new("--node")
    {
        Description = "The node's URL (default: $PROVA_NODE or http://127.0.0.1:7420).",
        DefaultValueFactory = _ => ProvaClientOptions.DefaultNodeUrl,
        HelpName = "URL",
    };

    public static Option<string> DataDir() => new("--data-dir")
    {
        Description = "Prova's data directory: keys/node.json, and a node's store (default: ~/.prova).",
        DefaultValueFactory = _ => DefaultDataDir,
        HelpName = "D",
    };

    public static Option<bool> Json() => new("--json") { Description = "Print the result as JSON." };

    public static string DefaultDataDir => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".prova");

    public static ProvaClient Client(string url) => new(ProvaClient.ParseNodeUrl(url));

    /// <summary>Runs an async command body to completion; Ctrl+C cancels it unless one of <paramref name="interrupts"/>' handlers takes it.</summary>
    public static int Run(Func<CancellationToken, Task<int>> body, CliInterrupts? interrupts = null)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            if (interrupts?.Press() != true)
            {
                cts.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return body(cts.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new CliException("interrupted");
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Loads the user's key: <paramref name="keyFile"/>, else <c>&lt;data-dir&gt;/keys/node.json</c>; the password as <see cref="Password"/>.</summary>
    public static PrivateKey LoadKey(string? keyFile, string dataDir, string purpose)
    {
        string path = keyFile ?? KeyStore.NodeKeyPath(dataDir);
        if (!File.Exists(path))
        {
            throw new CliException($"no key at {path} {purpose} (create one with 'prova key new')");
        }
        return KeyStore.Load(path, Password(confirm: false));
    }

    /// <summary>The key password: $PROVA_KEY_PASSWORD, else a prompt without echo on a terminal (docs/keys.md).</summary>
    public static string Password(bool confirm) => KeyPassword.Resolve(Console.IsInputRedirected ? null : () =>
    {
        string first = Prompt("Key password: ");
        if (confirm && Prompt("Repeat password: ") != first)
        {
            throw new CliException("the passwords do not match");
        }
        return first;
    });

    private static string Prompt(string label)
    {
        Console.Error.Write(label);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }
                continue;
            }
            text.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return text.ToString();
    }

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}
