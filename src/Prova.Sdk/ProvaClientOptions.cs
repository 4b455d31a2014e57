namespace Prova.Sdk;

/// <summary>Settings of a <see cref="ProvaClient"/>.</summary>
public sealed class ProvaClientOptions
{
    /// <summary>The default node URL: <c>PROVA_NODE</c> if set, otherwise http://127.0.0.1:7420 (a node's default listen address).</summary>
    public static string DefaultNodeUrl =>
        Environment.GetEnvironmentVariable("PROVA_NODE") is { Length: > 0 } url ? url : "http://127.0.0.1:7420";

    /// <summary>Timeout of one request (one chunk, one inference, one metadata call).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Timeout of establishing a connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest JSON answer accepted (inference results, model lists).</summary>
    public long MaxResponseBytes { get; init; } = 256L << 20;

    /// <summary>Largest model a pull accepts.</summary>
    public long MaxModelBytes { get; init; } = 64L << 30;

    /// <summary>Chunks in flight at once during a push or pull.</summary>
    public int Parallelism { get; init; } = 4;
}
