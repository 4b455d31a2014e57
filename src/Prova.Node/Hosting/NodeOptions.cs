using System.Globalization;
using System.Net;
using System.Numerics;
using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Network;

namespace Prova.Node.Hosting;

/// <summary>The node's settings (configuration section "Node"; documented in docs/node-api.md).</summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    public string DataDir { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".prova");

    /// <summary>HOST:PORT to listen on; port 0 picks a free port.</summary>
    public string Listen { get; set; } = "127.0.0.1:7420";

    public string ChainId { get; set; } = "31337";

    public string? VerifyingContract { get; set; }

    public long MaxModelBytes { get; set; } = int.MaxValue;

    public int MaxChunkBytes { get; set; } = 16 << 20;

    // --- unpublished uploads (docs/network.md, "Uploads, quotas and garbage collection") ---

    /// <summary>Smallest chunk size a manifest of more than one chunk may declare (the last chunk may be shorter).</summary>
    public int MinChunkBytes { get; set; } = ModelManifest.MinChunkSize;

    /// <summary>Most chunks one manifest may list (each is an index row).</summary>
    public int MaxManifestChunks { get; set; } = 16384;

    /// <summary>Unpublished bytes one client (remote IP) may have announced at once; beyond it 429 upload-quota.</summary>
    public long UnpublishedBytesPerClient { get; set; } = 8L << 30;

    /// <summary>Unpublished bytes the whole node holds at once; beyond it 507 upload-quota.</summary>
    public long UnpublishedBytes { get; set; } = 32L << 30;

    /// <summary>Unpublished content untouched this long is deleted (at start-up and every quarter of it, at most every 10 min).</summary>
    public int UnpublishedMaxAgeSeconds { get; set; } = 3600;

    /// <summary>Largest file of a bundle (a folder model: ONNX external data can exceed a single model's 2 GiB).</summary>
    public long MaxBundleFileBytes { get; set; } = 32L << 30;

    /// <summary>Largest bundle: the sum of its files' sizes.</summary>
    public long MaxBundleBytes { get; set; } = 64L << 30;

    public long MaxRequestBytes { get; set; } = 64 << 20;

    /// <summary>Largest sum of the output tensors of one inference; checked when planning, before running (413).</summary>
    public long MaxOutputBytes { get; set; } = 32 << 20;

    /// <summary>Memory all running inferences may hold at once (arena + inputs + outputs of each); beyond it they wait, then get 503.</summary>
    public long InferenceMemoryBytes { get; set; } = 1L << 30;

    public int MaxConcurrentInferences { get; set; } = Environment.ProcessorCount;

    public int InferenceQueueLimit { get; set; } = 64;

    public int RequestTimeoutSeconds { get; set; } = 60;

    public int SessionsPerModel { get; set; } = 2;

    public int InferenceThreads { get; set; } = 1;

    /// <summary>Generations (language models) that run at once; more wait in the generation queue.</summary>
    public int MaxConcurrentGenerations { get; set; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Generations that may wait for a slot; beyond it a request gets 429 at once.</summary>
    public int GenerationQueueLimit { get; set; } = 32;

    /// <summary>The most tokens one generation may produce (a request's max_tokens above it is refused).</summary>
    public int MaxGenerationTokens { get; set; } = 2048;

    /// <summary>The longest context (prompt + generated tokens) a generation may use, whatever the model allows.</summary>
    public int MaxContextTokens { get; set; } = 8192;

    /// <summary>Largest body of <c>POST /v1/chat/completions</c> and <c>/v1/completions</c> (a prompt is at most MaxContextTokens tokens).</summary>
    public long MaxChatRequestBytes { get; set; } = 1 << 20;

    /// <summary>The key password; when null, PROVA_KEY_PASSWORD. Never logged.</summary>
    public string? KeyPassword { get; set; }

    /// <summary>Use the light scrypt cost for a newly created key (tests and throw-away devnets only).</summary>
    public bool LightKeystore { get; set; }

    /// <summary>A key to use instead of the keystore (tests).</summary>
    public PrivateKey? Key { get; set; }

    // --- network (docs/network.md) ---

    /// <summary>Seed peers' base URLs (http://HOST:PORT); the node learns the rest by gossip.</summary>
    public List<string> Peers { get; set; } = [];

    /// <summary>The URL other nodes reach this node at; null = the URL it listens on.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>Copies of each model beyond the first that the network keeps (0 = never replicate).</summary>
    public int Replicas { get; set; } = 2;

    /// <summary>Milliseconds between two gossip rounds (peer exchange, then replication).</summary>
    public int GossipIntervalMs { get; set; } = 2000;

    /// <summary>Timeout of one peer exchange (connect + answer), in milliseconds.</summary>
    public int PeerTimeoutMs { get; set; } = 2000;

    /// <summary>Most peers kept in the peer table (records from further peers are ignored).</summary>
    public int MaxPeers { get; set; } = 64;

    /// <summary>Failed direct exchanges in a row after which a peer is dropped.</summary>
    public int PeerMaxFailures { get; set; } = 3;

    /// <summary>Peer records older than this (or more than 60 s in the future) are refused; a peer not heard of for this long is dropped.</summary>
    public int PeerRecordMaxAgeSeconds { get; set; } = 120;

    /// <summary>Fault injection for tests ("corrupt-output,slow:200,crash-after:5,corrupt-chunks"); null = none. Never on a real node.</summary>
    public string? Faults { get; set; }

    /// <summary>A crash-after fault stops this host (aborting the request) instead of killing the process (in-process tests).</summary>
    public bool CrashInProcess { get; set; }

    // --- chain mode (docs/settlement-node.md) ---

    /// <summary>JSON-RPC URL of the settlement chain; null = no chain mode (or the deployment file's "rpc" when Deployment is set).</summary>
    public string? Chain { get; set; }

    /// <summary>The deployment file (prova-deployment/v1) naming the contracts; chain mode is on when set.</summary>
    public string? Deployment { get; set; }

    /// <summary>Stake (wei, decimal) sent when registering; null = the registry's minimum.</summary>
    public string? Stake { get; set; }

    /// <summary>Milliseconds between two receipt batches.</summary>
    public int BatchIntervalMs { get; set; } = 10_000;

    /// <summary>Most receipts in one batch.</summary>
    public int MaxBatchReceipts { get; set; } = 10_000;

    /// <summary>Milliseconds between two reads of the chain (events, windows).</summary>
    public int ChainPollMs { get; set; } = 1000;

    /// <summary>Copies every setting from <paramref name="other"/>.</summary>
    public void CopyFrom(NodeOptions other)
    {
        DataDir = other.DataDir;
        Listen = other.Listen;
        ChainId = other.ChainId;
        VerifyingContract = other.VerifyingContract;
        MaxModelBytes = other.MaxModelBytes;
        MaxChunkBytes = other.MaxChunkBytes;
        MinChunkBytes = other.MinChunkBytes;
        MaxManifestChunks = other.MaxManifestChunks;
        UnpublishedBytesPerClient = other.UnpublishedBytesPerClient;
        UnpublishedBytes = other.UnpublishedBytes;
        UnpublishedMaxAgeSeconds = other.UnpublishedMaxAgeSeconds;
        MaxBundleFileBytes = other.MaxBundleFileBytes;
        MaxBundleBytes = other.MaxBundleBytes;
        MaxRequestBytes = other.MaxRequestBytes;
        MaxOutputBytes = other.MaxOutputBytes;
        InferenceMemoryBytes = other.InferenceMemoryBytes;
        MaxConcurrentInferences = other.MaxConcurrentInferences;
        InferenceQueueLimit = other.InferenceQueueLimit;
        RequestTimeoutSeconds = other.RequestTimeoutSeconds;
        SessionsPerModel = other.SessionsPerModel;
        InferenceThreads = other.InferenceThreads;
        MaxConcurrentGenerations = other.MaxConcurrentGenerations;
        GenerationQueueLimit = other.GenerationQueueLimit;
        MaxGenerationTokens = other.MaxGenerationTokens;
        MaxContextTokens = other.MaxContextTokens;
        MaxChatRequestBytes = other.MaxChatRequestBytes;
        KeyPassword = other.KeyPassword;
        LightKeystore = other.LightKeystore;
        Key = other.Key;
        Peers = [.. other.Peers];
        PublicUrl = other.PublicUrl;
        Replicas = other.Replicas;
        GossipIntervalMs = other.GossipIntervalMs;
        PeerTimeoutMs = other.PeerTimeoutMs;
        MaxPeers = other.MaxPeers;
        PeerMaxFailures = other.PeerMaxFailures;
        PeerRecordMaxAgeSeconds = other.PeerRecordMaxAgeSeconds;
        Faults = other.Faults;
        CrashInProcess = other.CrashInProcess;
        Chain = other.Chain;
        Deployment = other.Deployment;
        Stake = other.Stake;
        BatchIntervalMs = other.BatchIntervalMs;
        MaxBatchReceipts = other.MaxBatchReceipts;
        ChainPollMs = other.ChainPollMs;
    }

    internal BigInteger ChainIdValue => BigInteger.Parse(ChainId, NumberStyles.None, CultureInfo.InvariantCulture);

    internal Address VerifyingContractValue => VerifyingContract is { Length: > 0 } v ? Address.Parse(v) : Address.Zero;

    /// <summary>Every problem with these settings, each naming the setting and the fix.</summary>
    public List<string> Problems()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(DataDir))
        {
            problems.Add("Node:DataDir (--data-dir) is empty; give a directory for the store and the key");
        }
        if (!TryParseListen(Listen, out _, out _))
        {
            problems.Add($"Node:Listen (--listen) '{Listen}' is not HOST:PORT (e.g. 127.0.0.1:7420; port 0 picks a free one)");
        }
        if (ChainId.Length is 0 or > 78 || !BigInteger.TryParse(ChainId, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            problems.Add($"Node:ChainId '{ChainId}' is not a non-negative decimal integer");
        }
        if (VerifyingContract is { Length: > 0 } && !Address.TryParse(VerifyingContract, out _))
        {
            problems.Add($"Node:VerifyingContract '{VerifyingContract}' is not an address (0x + 40 hex digits)");
        }
        if (MaxModelBytes < 1 || MaxModelBytes > int.MaxValue)
        {
            problems.Add($"Node:MaxModelBytes {MaxModelBytes} must be within 1..{int.MaxValue}");
        }
        if (MaxBundleFileBytes < 1)
        {
            problems.Add($"Node:MaxBundleFileBytes {MaxBundleFileBytes} must be at least 1");
        }
        if (MaxBundleBytes < 1)
        {
            problems.Add($"Node:MaxBundleBytes {MaxBundleBytes} must be at least 1");
        }
        if (MaxChunkBytes < ModelManifest.MinChunkSize || MaxChunkBytes > ModelManifest.MaxChunkSize)
        {
            problems.Add($"Node:MaxChunkBytes {MaxChunkBytes} must be within {ModelManifest.MinChunkSize}..{ModelManifest.MaxChunkSize}");
        }
        if (MinChunkBytes < ModelManifest.MinChunkSize || MinChunkBytes > MaxChunkBytes)
        {
            problems.Add($"Node:MinChunkBytes {MinChunkBytes} must be within {ModelManifest.MinChunkSize}..MaxChunkBytes ({MaxChunkBytes})");
        }
        if (MaxManifestChunks < 1)
        {
            problems.Add($"Node:MaxManifestChunks {MaxManifestChunks} must be at least 1");
        }
        if (UnpublishedBytesPerClient < 1 || UnpublishedBytes < UnpublishedBytesPerClient)
        {
            problems.Add($"Node:UnpublishedBytesPerClient {UnpublishedBytesPerClient} must be at least 1 and at most Node:UnpublishedBytes ({UnpublishedBytes})");
        }
        if (UnpublishedMaxAgeSeconds < 1)
        {
            problems.Add($"Node:UnpublishedMaxAgeSeconds {UnpublishedMaxAgeSeconds} must be at least 1");
        }
        if (MaxRequestBytes < 1024 || MaxRequestBytes > int.MaxValue)
        {
            problems.Add($"Node:MaxRequestBytes {MaxRequestBytes} must be within 1024..{int.MaxValue}");
        }
        if (MaxOutputBytes < 1024 || MaxOutputBytes > int.MaxValue)
        {
            problems.Add($"Node:MaxOutputBytes {MaxOutputBytes} must be within 1024..{int.MaxValue}");
        }
        if (InferenceMemoryBytes < MaxOutputBytes)
        {
            problems.Add($"Node:InferenceMemoryBytes {InferenceMemoryBytes} must be at least Node:MaxOutputBytes ({MaxOutputBytes})");
        }
        if (MaxConcurrentInferences < 1)
        {
            problems.Add($"Node:MaxConcurrentInferences {MaxConcurrentInferences} must be at least 1");
        }
        if (MaxChatRequestBytes < 1024 || MaxChatRequestBytes > int.MaxValue)
        {
            problems.Add($"Node:MaxChatRequestBytes {MaxChatRequestBytes} must be within 1024..{int.MaxValue}");
        }
        if (MaxConcurrentGenerations < 1)
        {
            problems.Add($"Node:MaxConcurrentGenerations {MaxConcurrentGenerations} must be at least 1");
        }
        if (GenerationQueueLimit < 0)
        {
            problems.Add($"Node:GenerationQueueLimit {GenerationQueueLimit} must be at least 0");
        }
        if (MaxGenerationTokens < 1 || MaxContextTokens < 2)
        {
            problems.Add($"Node:MaxGenerationTokens ({MaxGenerationTokens}) must be at least 1 and Node:MaxContextTokens ({MaxContextTokens}) at least 2");
        }
        if (InferenceQueueLimit < 0)
        {
            problems.Add($"Node:InferenceQueueLimit {InferenceQueueLimit} must be at least 0");
        }
        if (RequestTimeoutSeconds < 1)
        {
            problems.Add($"Node:RequestTimeoutSeconds {RequestTimeoutSeconds} must be at least 1");
        }
        if (SessionsPerModel < 1)
        {
            problems.Add($"Node:SessionsPerModel {SessionsPerModel} must be at least 1");
        }
        if (InferenceThreads < 1 || InferenceThreads > 256)
        {
            problems.Add($"Node:InferenceThreads {InferenceThreads} must be within 1..256");
        }
        NetworkProblems(problems);
        ChainProblems(problems);
        return problems;
    }

    private void ChainProblems(List<string> problems)
    {
        if (Chain is { Length: > 0 } && !HttpUrl.TryParse(Chain, out _))
        {
            problems.Add($"Node:Chain (--chain) '{Chain}' is not an http(s) JSON-RPC URL");
        }
        if (Chain is { Length: > 0 } && Deployment is not { Length: > 0 })
        {
            problems.Add("Node:Chain (--chain) needs Node:Deployment (--deployment FILE, written by prova devnet up) naming the contracts");
        }
        if (Stake is { Length: > 0 } && !BigInteger.TryParse(Stake, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            problems.Add($"Node:Stake (--stake) '{Stake}' is not a decimal amount of wei");
        }
        if (BatchIntervalMs < 10)
        {
            problems.Add($"Node:BatchIntervalMs {BatchIntervalMs} must be at least 10");
        }
        if (MaxBatchReceipts < 1 || MaxBatchReceipts > Prova.Core.Receipts.ReceiptBatch.MaxLeaves)
        {
            problems.Add($"Node:MaxBatchReceipts {MaxBatchReceipts} must be within 1..{Prova.Core.Receipts.ReceiptBatch.MaxLeaves}");
        }
        if (ChainPollMs < 10 || ChainPollMs > 600_000)
        {
            problems.Add($"Node:ChainPollMs {ChainPollMs} must be within 10..600000");
        }
    }

    private void NetworkProblems(List<string> problems)
    {
        foreach (string peer in Peers)
        {
            if (!Prova.Core.Network.PeerRecord.IsValidUrl(Prova.Core.Network.PeerRecord.NormaliseUrl(peer)))
            {
                problems.Add($"Node:Peers (--peers) '{peer}' is not an http(s)://HOST:PORT URL");
            }
        }
        if (PublicUrl is { Length: > 0 } && !Prova.Core.Network.PeerRecord.IsValidUrl(PublicUrl))
        {
            problems.Add($"Node:PublicUrl '{PublicUrl}' is not an http(s)://HOST:PORT URL");
        }
        if (Replicas < 0 || Replicas > 64)
        {
            problems.Add($"Node:Replicas (--replicas) {Replicas} must be within 0..64");
        }
        if (GossipIntervalMs < 10 || GossipIntervalMs > 3_600_000)
        {
            problems.Add($"Node:GossipIntervalMs {GossipIntervalMs} must be within 10..3600000");
        }
        if (PeerTimeoutMs < 10 || PeerTimeoutMs > 600_000)
        {
            problems.Add($"Node:PeerTimeoutMs {PeerTimeoutMs} must be within 10..600000");
        }
        if (MaxPeers < 1 || MaxPeers > Prova.Core.Network.PeerRecord.MaxPeersInList)
        {
            problems.Add($"Node:MaxPeers {MaxPeers} must be within 1..{Prova.Core.Network.PeerRecord.MaxPeersInList}");
        }
        if (PeerMaxFailures < 1)
        {
            problems.Add($"Node:PeerMaxFailures {PeerMaxFailures} must be at least 1");
        }
        if (PeerRecordMaxAgeSeconds < 5)
        {
            problems.Add($"Node:PeerRecordMaxAgeSeconds {PeerRecordMaxAgeSeconds} must be at least 5");
        }
        if (!Network.NodeFaults.TryParse(Faults, out _, out string? faultProblem))
        {
            problems.Add($"Node:Faults (--fault) {faultProblem}");
        }
    }

    internal static bool TryParseListen(string? listen, out IPAddress? address, out int port)
    {
        address = null;
        port = 0;
        if (string.IsNullOrEmpty(listen))
        {
            return false;
        }
        int colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
        {
            return false;
        }
        string host = listen[..colon].Trim('[', ']');
        if (host == "localhost")
        {
            address = IPAddress.Loopback;
            return true;
        }
        return IPAddress.TryParse(host, out address);
    }
}

/// <summary>Validates <see cref="NodeOptions"/> at start-up.</summary>
internal sealed class NodeOptionsValidator : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions options)
    {
        var problems = options.Problems();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

/// <summary>The node cannot start: a setting is invalid or the key cannot be loaded.</summary>
public sealed class NodeStartException : ProvaException
{
    public NodeStartException(string message) : base(message) { }

    public NodeStartException(string message, Exception inner) : base(message, inner) { }
}
