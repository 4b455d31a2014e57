using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Sdk;

namespace Prova.Cli;

/// <summary>What a devnet starts (docs/devnet.md).</summary>
public sealed record DevnetOptions
{
    public int Nodes { get; init; } = 4;

    /// <summary>Parent of the nodes' data directories (node-0, node-1, …); null: a temporary directory removed when the devnet stops.</summary>
    public string? DataDir { get; init; }

    /// <summary>Copies of each model beyond the first (<c>prova node start --replicas</c>); null: the node default.</summary>
    public int? Replicas { get; init; }

    /// <summary>Node index → fault spec (<c>--fault</c>; tests and the demo only): such a node runs as the hidden <c>prova devnet faulty-node</c>.</summary>
    public IReadOnlyDictionary<int, string> Faults { get; init; } = new Dictionary<int, string>();

    /// <summary>Milliseconds between peer exchanges; short on a devnet so models replicate quickly.</summary>
    public int GossipIntervalMs { get; init; } = 300;

    public string ChainId { get; init; } = "31337";

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Extra pieces started before the nodes (e.g. a local chain) that can add node arguments: the extension point.</summary>
    public IReadOnlyList<IDevnetComponent> Components { get; init; } = [];

    /// <summary>Receives one line per event (node started, stopped) when set.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// Something a devnet runs besides its nodes (a local EVM chain, an indexer …). Started in order before
/// the nodes, it may add arguments and environment variables to every node, and is disposed after them.
/// </summary>
public interface IDevnetComponent : IAsyncDisposable
{
    string Name { get; }

    Task StartAsync(DevnetContext context, CancellationToken cancellationToken);

    /// <summary>Adds to node <paramref name="node"/>'s <c>prova node start</c> arguments and environment.</summary>
    void ConfigureNode(DevnetNodeSpec node);
}

/// <summary>What a component sees when it starts: the devnet's directory and settings.</summary>
public sealed record DevnetContext(string Directory, DevnetOptions Options);

/// <summary>The command line of one node, before it starts (components may add to it).</summary>
public sealed record DevnetNodeSpec(int Index, string DataDir, List<string> Arguments, Dictionary<string, string> Environment);

/// <summary>One running node of a devnet.</summary>
public sealed class DevnetNode
{
    internal DevnetNode(int index, string dataDir, string? fault)
    {
        Index = index;
        DataDir = dataDir;
        Fault = fault;
    }

    public int Index { get; }
    public string DataDir { get; }
    public string? Fault { get; }
    public Uri Url { get; internal set; } = null!;
    public Address Address { get; internal set; }
    public int Port => Url.Port;
    internal Process? Process { get; set; }
    internal ConcurrentQueue<string> Output { get; } = new();

    /// <summary>True while the node's process runs.</summary>
    public bool IsRunning => Process is { HasExited: false };

    public int ProcessId => Process?.Id ?? 0;

    /// <summary>The last lines the node printed (stdout and stderr), for error messages.</summary>
    public string RecentOutput => string.Join(" | ", Output.TakeLast(6));

    public override string ToString() => $"node {Index} {Address} at {Url}";
}

/// <summary>
/// A local Prova network: N <c>prova node start</c> child processes on 127.0.0.1, each with a fresh
/// key (light scrypt: throw-away), seeded with each other (<c>--peers</c>). The nodes' key password is
/// random, handed to them through PROVA_KEY_PASSWORD and never printed. Every child watches its
/// standard input: when this process dies (even killed) the pipe closes and the nodes exit, so no
/// node outlives its devnet. Used by <c>prova devnet up</c>, <c>prova demo</c>, tests and the load benchmark.
/// </summary>
public sealed class Devnet : IAsyncDisposable
{
    /// <summary>Set in a child's environment: exit when standard input closes (see Program.Main).</summary>
    public const string ExitWithStdinVariable = "PROVA_EXIT_WITH_STDIN";

    private readonly List<DevnetNode> _nodes;
    private readonly bool _ownsDirectory;
    private readonly string _password;
    private int _disposed;

    private Devnet(string directory, bool ownsDirectory, DevnetOptions options, List<DevnetNode> nodes, string password)
    {
        Directory = directory;
        _ownsDirectory = ownsDirectory;
        Options = options;
        _nodes = nodes;
        _password = password;
    }

    public string Directory { get; }
    public DevnetOptions Options { get; }
    public IReadOnlyList<DevnetNode> Nodes => _nodes;
    public IReadOnlyList<Uri> Urls => _nodes.Select(n => n.Url).ToList();

    /// <summary>A network client seeded with every node of the devnet.</summary>
    public ProvaNetwork Network(ProvaNetworkOptions? options = null) => new(Urls, options);

    /// <summary>Starts the components, then every node in parallel; returns when all answer /healthz.</summary>
    public static async Task<Devnet> StartAsync(DevnetOptions options, CancellationToken cancellationToken = default)
    {
        if (options.Nodes is < 1 or > 64)
        {
            throw new CliException($"--nodes {options.Nodes} must be within 1..64");
        }
        foreach (var (i, spec) in options.Faults)
        {
            if (i < 0 || i >= options.Nodes)
            {
                throw new CliException($"--fault names node {i}; the devnet has nodes 0..{options.Nodes - 1}");
            }
            if (!Prova.Node.Testing.NodeFaults.TryParse(spec, out _, out string? problem))
            {
                throw new CliException($"--fault {i}:{spec}: {problem}");
            }
        }
        bool owns = options.DataDir is null;
        string directory;
        try
        {
            directory = owns ? System.IO.Directory.CreateTempSubdirectory("prova-devnet-").FullName : System.IO.Directory.CreateDirectory(options.DataDir!).FullName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CliException($"cannot use '{options.DataDir}' for the devnet: {ex.Message}", ex);
        }
        string password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var nodes = new List<DevnetNode>();
        for (int i = 0; i < options.Nodes; i++)
        {
            nodes.Add(new DevnetNode(i, Path.Combine(directory, "node-" + i.ToString(CultureInfo.InvariantCulture)), options.Faults.GetValueOrDefault(i)));
        }
        var devnet = new Devnet(directory, owns, options, nodes, password);
        try
        {
            foreach (var component in options.Components)
            {
                await component.StartAsync(new DevnetContext(directory, options), cancellationToken);
            }
            await Task.Run(() => CreateKeys(nodes, password), cancellationToken);
            await devnet.LaunchAllAsync(cancellationToken);
            await devnet.WaitHealthyAsync(cancellationToken);
            await devnet.WriteManifestAsync();
            return devnet;
        }
        catch
        {
            await devnet.DisposeAsync();
            throw;
        }
    }

    private static void CreateKeys(List<DevnetNode> nodes, string password)
    {
        Parallel.ForEach(nodes, node =>
        {
            string path = KeyStore.NodeKeyPath(node.DataDir);
            if (File.Exists(path))
            {
                // A kept devnet directory: the key stays (its password was random, so it is replaced).
                File.Delete(path);
            }
            var key = PrivateKey.Generate();
            KeyStore.Save(path, key, password, KeystoreOptions.Light);
            node.Address = key.Address;
        });
    }

    private async Task LaunchAllAsync(CancellationToken cancellationToken)
    {
        var ports = FreePorts(_nodes.Count);
        for (int i = 0; i < _nodes.Count; i++)
        {
            _nodes[i].Url = new Uri($"http://127.0.0.1:{ports[i]}/");
        }
        await Task.WhenAll(_nodes.Select(async node =>
        {
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await LaunchAsync(node, cancellationToken);
                    return;
                }
                catch (DevnetStartException) when (attempt < 2 && node.Output.Any(l => l.Contains("address already in use", StringComparison.OrdinalIgnoreCase)))
                {
                    // Another program took the port between choosing and binding: pick another.
                    node.Url = new Uri($"http://127.0.0.1:{FreePorts(1)[0]}/");
                }
            }
        }));
    }

    /// <summary>Starts (or restarts) one node's process and waits for its "listening on" line.</summary>
    public async Task LaunchAsync(DevnetNode node, CancellationToken cancellationToken = default)
    {
        var spec = new DevnetNodeSpec(node.Index, node.DataDir, [], new Dictionary<string, string>(StringComparer.Ordinal));
        // A faulty node runs as the devnet's hidden faulty-node command: prova node start cannot misbehave.
        spec.Arguments.AddRange(node.Fault is { } fault ? ["devnet", "faulty-node", "--fault", fault] : ["node", "start"]);
        spec.Arguments.AddRange(["--data-dir", node.DataDir, "--listen", $"127.0.0.1:{node.Port}", "--chain-id", Options.ChainId,
            "--gossip-interval", Options.GossipIntervalMs.ToString(CultureInfo.InvariantCulture)]);
        var peers = _nodes.Where(n => n != node).Select(n => n.Url.AbsoluteUri.TrimEnd('/')).ToList();
        if (peers.Count > 0)
        {
            spec.Arguments.AddRange(["--peers", string.Join(",", peers)]);
        }
        if (Options.Replicas is { } r)
        {
            spec.Arguments.AddRange(["--replicas", r.ToString(CultureInfo.InvariantCulture)]);
        }
        foreach (var component in Options.Components)
        {
            component.ConfigureNode(spec);
        }
        var (file, prefix) = Launcher();
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in prefix.Concat(spec.Arguments))
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["PROVA_KEY_PASSWORD"] = _password;
        start.Environment[ExitWithStdinVariable] = "1";
        foreach (var (k, v) in spec.Environment)
        {
            start.Environment[k] = v;
        }
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        node.Output.Clear();
        process.OutputDataReceived += (_, e) => OnLine(node, e.Data, listening);
        process.ErrorDataReceived += (_, e) => OnLine(node, e.Data, null);
        process.Exited += (_, _) => listening.TrySetException(new DevnetStartException($"node {node.Index} exited during start-up: {node.RecentOutput}"));
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new CliException($"cannot start '{file}': {ex.Message}", ex);
        }
        node.Process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.StartTimeout);
        try
        {
            string url = await listening.Task.WaitAsync(timeout.Token);
            node.Url = new Uri(url.EndsWith('/') ? url : url + "/");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill(process);
            throw new DevnetStartException($"node {node.Index} did not start within {Options.StartTimeout.TotalSeconds:0} s: {node.RecentOutput}");
        }
        catch
        {
            Kill(process);
            throw;
        }
        Options.Log?.Invoke($"node {node.Index} {node.Address} listening on {node.Url} (pid {process.Id})");
    }

    private static void OnLine(DevnetNode node, string? line, TaskCompletionSource<string>? listening)
    {
        if (line is null)
        {
            return;
        }
        node.Output.Enqueue(line);
        while (node.Output.Count > 50)
        {
            node.Output.TryDequeue(out _);
        }
        const string Marker = " listening on ";
        int at = line.IndexOf(Marker, StringComparison.Ordinal);
        if (listening is not null && at >= 0 && line.StartsWith("node ", StringComparison.Ordinal))
        {
            listening.TrySetResult(line[(at + Marker.Length)..].Trim());
        }
    }

    /// <summary>How to run this very program: the native <c>prova</c> host, or <c>dotnet prova.dll</c>.</summary>
    internal static (string File, List<string> Prefix) Launcher()
    {
        string? processPath = Environment.ProcessPath;
        if (processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "prova")
        {
            return (processPath, []);
        }
        string dll = typeof(Devnet).Assembly.Location;
        string dotnet = processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet"
            ? processPath
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        return (dotnet, [dll]);
    }

    private async Task WaitHealthyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.StartTimeout);
        await Task.WhenAll(_nodes.Select(async node =>
        {
            using var client = new ProvaClient(node.Url, new ProvaClientOptions { RequestTimeout = TimeSpan.FromSeconds(5) });
            while (true)
            {
                try
                {
                    if (await client.IsHealthyAsync(timeout.Token))
                    {
                        var info = await client.GetNodeInfoAsync(timeout.Token);
                        if (info.Address != node.Address)
                        {
                            throw new DevnetStartException($"node {node.Index} answers as {info.Address}, expected {node.Address}");
                        }
                        return;
                    }
                }
                catch (ProvaClientException)
                {
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new DevnetStartException($"node {node.Index} did not become healthy: {node.RecentOutput}");
                }
                await Task.Delay(100, timeout.Token);
            }
        }));
    }

    /// <summary>Writes &lt;dir&gt;/devnet.json: the nodes' index, address, URL and fault (for scripts; no secrets).</summary>
    private async Task WriteManifestAsync()
    {
        var text = new StringBuilder("{\"nodes\": [");
        text.AppendJoin(", ", _nodes.Select(n =>
            $"{{\"index\": {n.Index}, \"address\": \"{n.Address}\", \"url\": \"{n.Url.AbsoluteUri.TrimEnd('/')}\", \"pid\": {n.ProcessId}{(n.Fault is { } f ? $", \"fault\": \"{f}\"" : "")}}}"));
        text.Append("]}\n");
        await File.WriteAllTextAsync(Path.Combine(Directory, "devnet.json"), text.ToString());
    }

    /// <summary>
    /// Waits until at least <paramref name="hosts"/> nodes host <paramref name="model"/> (by their signed
    /// peer records), reporting the count as it grows; returns the hosts' indexes.
    /// </summary>
    public async Task<IReadOnlyList<int>> WaitForReplicasAsync(Cid model, int hosts, TimeSpan timeout, IProgress<IReadOnlyList<int>>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var clients = _nodes.Where(n => n.IsRunning).Select(n => (Node: n, Client: new ProvaClient(n.Url, new ProvaClientOptions { RequestTimeout = TimeSpan.FromSeconds(5) }))).ToList();
        try
        {
            var deadline = Stopwatch.StartNew();
            int reported = -1;
            while (true)
            {
                var having = new ConcurrentBag<int>();
                await Task.WhenAll(clients.Select(async c =>
                {
                    try
                    {
                        var peers = await c.Client.GetPeersAsync(cancellationToken);
                        if (peers.Self.Models.Contains(model))
                        {
                            having.Add(c.Node.Index);
                        }
                    }
                    catch (ProvaClientException)
                    {
                    }
                }));
                var list = having.Order().ToList();
                if (list.Count != reported)
                {
                    reported = list.Count;
                    progress?.Report(list);
                }
                if (list.Count >= hosts)
                {
                    return list;
                }
                if (deadline.Elapsed > timeout)
                {
                    throw new CliException($"model {model} reached {list.Count} of {hosts} nodes within {timeout.TotalSeconds:0} s");
                }
                await Task.Delay(100, cancellationToken);
            }
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Client.Dispose();
            }
        }
    }

    /// <summary>Kills node <paramref name="index"/>'s process at once (SIGKILL: a crash, for fault tests).</summary>
    public void Kill(int index)
    {
        if (_nodes[index].Process is { } p)
        {
            Kill(p);
            Options.Log?.Invoke($"node {index} killed");
        }
    }

    /// <summary>Stops every node (closes their standard input, then kills stragglers) and removes a temporary directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await Task.WhenAll(_nodes.Select(n => StopAsync(n)));
        foreach (var component in Options.Components.Reverse())
        {
            await component.DisposeAsync();
        }
        if (_ownsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private async Task StopAsync(DevnetNode node)
    {
        if (node.Process is not { } p)
        {
            return;
        }
        try
        {
            if (!p.HasExited)
            {
                try
                {
                    p.StandardInput.Close();
                }
                catch (IOException)
                {
                }
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await p.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    Kill(p);
                }
            }
        }
        finally
        {
            p.Dispose();
            node.Process = null;
        }
    }

    private static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static int[] FreePorts(int count)
    {
        var listeners = new List<TcpListener>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var l = new TcpListener(IPAddress.Loopback, 0);
                l.Start();
                listeners.Add(l);
            }
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var l in listeners)
            {
                l.Stop();
            }
        }
    }
}

/// <summary>A devnet node did not come up.</summary>
public sealed class DevnetStartException : Prova.Core.ProvaException
{
    public DevnetStartException(string message) : base(message) { }
}
