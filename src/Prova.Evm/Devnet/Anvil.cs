using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Prova.Core.Keys;
using Prova.Evm.Rpc;

namespace Prova.Evm.Devnet;

/// <summary>The anvil binary could not be found or did not start.</summary>
public sealed class AnvilException : EvmException
{
    public AnvilException(string message) : base(message) { }
}

/// <summary>How to start anvil.</summary>
public sealed record AnvilOptions
{
    public const string DefaultMnemonic = "test test test test test test test test test test test junk";

    public ulong ChainId { get; init; } = 31337;

    public string Mnemonic { get; init; } = DefaultMnemonic;

    /// <summary>Funded dev accounts (10 000 ETH each by default).</summary>
    public int Accounts { get; init; } = 10;

    /// <summary>Seconds between blocks; null = mine one block per transaction (automine).</summary>
    public int? BlockTimeSeconds { get; init; }

    /// <summary>Explicit binary path; otherwise <see cref="Anvil.FindBinary"/>.</summary>
    public string? BinaryPath { get; init; }

    /// <summary>How long to wait for the RPC endpoint to answer (default 30 s).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Extra command-line arguments.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}

/// <summary>
/// A local anvil devnet: started on a free 127.0.0.1 port, with a fixed mnemonic and chain id
/// (31337 by default), ready when its JSON-RPC answers; exposes its funded dev keys and kills the
/// process (tree) on <see cref="Dispose"/> or when this process exits.
/// </summary>
public sealed class Anvil : IDisposable
{
    /// <summary>Environment variable naming the anvil binary explicitly.</summary>
    public const string BinaryVariable = "PROVA_ANVIL";

    private readonly Process _process;
    private readonly string _configPath;
    private readonly EventHandler _onExit;
    private int _disposed;

    private Anvil(Process process, string configPath, Uri url, ulong chainId, IReadOnlyList<PrivateKey> keys)
    {
        _process = process;
        _configPath = configPath;
        Url = url;
        ChainId = chainId;
        DevKeys = keys;
        Client = new EthClient(url, new EthClientOptions { PollInterval = TimeSpan.FromMilliseconds(25), ReceiptTimeout = TimeSpan.FromSeconds(30) });
        _onExit = (_, _) => Kill();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    public Uri Url { get; }

    public int Port => Url.Port;

    public ulong ChainId { get; }

    /// <summary>The funded dev accounts' keys, in anvil's order.</summary>
    public IReadOnlyList<PrivateKey> DevKeys { get; }

    /// <summary>A client for this devnet (polls every 25 ms).</summary>
    public EthClient Client { get; }

    public int ProcessId => _process.Id;

    /// <summary>An <see cref="EvmAccount"/> for dev key <paramref name="index"/>.</summary>
    public EvmAccount Account(int index = 0) => new(Client, DevKeys[index], ChainId);

    /// <summary>
    /// The anvil executable: $PROVA_ANVIL, else contracts/node_modules/@foundry-rs/anvil-&lt;os&gt;-&lt;arch&gt;/bin/anvil
    /// or contracts/node_modules/.bin/anvil in the current directory, the application's base directory or any parent of them. Null when none.
    /// </summary>
    public static string? FindBinary()
    {
        if (Environment.GetEnvironmentVariable(BinaryVariable) is { Length: > 0 } explicitPath)
        {
            return File.Exists(explicitPath) ? Path.GetFullPath(explicitPath) : null;
        }
        string arch = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64";
        string os = OperatingSystem.IsMacOS() ? "darwin" : OperatingSystem.IsWindows() ? "win32" : "linux";
        string exe = OperatingSystem.IsWindows() ? "anvil.exe" : "anvil";
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string modules = Path.Combine(dir.FullName, "contracts", "node_modules");
                string native = Path.Combine(modules, "@foundry-rs", $"anvil-{os}-{arch}", "bin", exe);
                if (File.Exists(native))
                {
                    return native;
                }
                string wrapper = Path.Combine(modules, ".bin", "anvil");
                if (File.Exists(wrapper))
                {
                    return wrapper;
                }
            }
        }
        return null;
    }

    /// <summary>Starts anvil and waits until it answers eth_chainId.</summary>
    /// <exception cref="AnvilException">No binary, or it exited or did not answer in time.</exception>
    public static async Task<Anvil> StartAsync(AnvilOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new AnvilOptions();
        string binary = options.BinaryPath ?? FindBinary()
            ?? throw new AnvilException($"anvil not found: run scripts/setup.sh (npm ci --prefix contracts) or set {BinaryVariable}");
        AnvilException? last = null;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                return await StartOnceAsync(binary, options, cancellationToken).ConfigureAwait(false);
            }
            catch (AnvilException e) when (e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                last = e; // lost the race for the free port; try another
            }
        }
        throw last!;
    }

    private static async Task<Anvil> StartOnceAsync(string binary, AnvilOptions options, CancellationToken cancellationToken)
    {
        int port = FreePort();
        string configPath = Path.Combine(Path.GetTempPath(), $"prova-anvil-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--chain-id", options.ChainId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--mnemonic", options.Mnemonic,
            "--accounts", options.Accounts.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--config-out", configPath,
        })
        {
            info.ArgumentList.Add(arg);
        }
        if (options.BlockTimeSeconds is { } blockTime)
        {
            info.ArgumentList.Add("--block-time");
            info.ArgumentList.Add(blockTime.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        foreach (string arg in options.ExtraArguments)
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new AnvilException($"could not start {binary}");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Keep(object? sender, DataReceivedEventArgs e)
        {
            if (e.Data is not null)
            {
                log.Enqueue(e.Data);
                while (log.Count > 40)
                {
                    log.TryDequeue(out _);
                }
            }
        }
        process.OutputDataReceived += Keep;
        process.ErrorDataReceived += Keep;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var url = new Uri($"http://127.0.0.1:{port}/");
        using var probe = new EthClient(url, new EthClientOptions { RequestTimeout = TimeSpan.FromSeconds(2) });
        var started = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (process.HasExited)
                {
                    throw new AnvilException($"anvil exited with code {process.ExitCode} during startup: {string.Join(" | ", log.TakeLast(5))}");
                }
                try
                {
                    ulong chainId = await probe.ChainIdAsync(cancellationToken).ConfigureAwait(false);
                    if (File.Exists(configPath))
                    {
                        var keys = ReadKeys(configPath);
                        return new Anvil(process, configPath, url, chainId, keys);
                    }
                }
                catch (RpcTransportException)
                {
                }
                if (started.Elapsed > options.StartTimeout)
                {
                    throw new AnvilException($"anvil did not answer on {url} within {options.StartTimeout.TotalSeconds:0} s");
                }
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            KillProcess(process);
            TryDelete(configPath);
            throw;
        }
    }

    private static IReadOnlyList<PrivateKey> ReadKeys(string configPath)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(configPath));
                return document.RootElement.GetProperty("private_keys").EnumerateArray().Select(k => PrivateKey.FromHex(k.GetString()!)).ToArray();
            }
            catch (Exception e) when (attempt < 20 && e is JsonException or IOException)
            {
                Thread.Sleep(25); // file still being written
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // ---------- anvil_* / evm_* test helpers ----------

    /// <summary>Mines <paramref name="blocks"/> blocks (anvil_mine).</summary>
    public Task MineAsync(ulong blocks = 1, CancellationToken cancellationToken = default) =>
        Client.RequestAsync("anvil_mine", [Quantity.Format(blocks)], cancellationToken);

    /// <summary>Moves the next block's timestamp forward (evm_increaseTime); mine to apply it.</summary>
    public Task IncreaseTimeAsync(TimeSpan by, CancellationToken cancellationToken = default) =>
        Client.RequestAsync("evm_increaseTime", [(long)by.TotalSeconds], cancellationToken);

    public Task SetBalanceAsync(Prova.Core.Crypto.Address address, BigInteger wei, CancellationToken cancellationToken = default) =>
        Client.RequestAsync("anvil_setBalance", [address.ToLowerHex(), Quantity.Format(wei)], cancellationToken);

    /// <summary>Saves the chain state (evm_snapshot); returns the snapshot id for <see cref="RevertAsync"/>.</summary>
    public Task<string> SnapshotAsync(CancellationToken cancellationToken = default) =>
        Client.RequestAsync("evm_snapshot", [], r => r.GetString() ?? throw new FormatException("snapshot id"), cancellationToken);

    /// <summary>Restores a snapshot (evm_revert); true when it existed. A snapshot can be restored once.</summary>
    public Task<bool> RevertAsync(string snapshotId, CancellationToken cancellationToken = default) =>
        Client.RequestAsync("evm_revert", [snapshotId], r => r.GetBoolean(), cancellationToken);

    /// <summary>Turns automine on or off (evm_setAutomine).</summary>
    public Task SetAutomineAsync(bool enabled, CancellationToken cancellationToken = default) =>
        Client.RequestAsync("evm_setAutomine", [enabled], cancellationToken);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        AppDomain.CurrentDomain.ProcessExit -= _onExit;
        Kill();
        Client.Dispose();
        _process.Dispose();
    }

    private void Kill()
    {
        KillProcess(_process);
        TryDelete(_configPath);
    }

    private static void KillProcess(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
