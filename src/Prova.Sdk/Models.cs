using System.Numerics;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;

namespace Prova.Sdk;

/// <summary>The node's identity and limits (<c>GET /v1/node</c>).</summary>
public sealed record NodeInfo(Address Address, BigInteger ChainId, Address VerifyingContract, string Version, NodeLimits Limits);

public sealed record NodeLimits(long MaxModelBytes, long MaxChunkBytes, long MaxRequestBytes, int DefaultChunkSize);

/// <summary>One input or output of a model's graph: <see cref="Shape"/> holds numbers for fixed dims, strings for symbolic ones, null for unknown.</summary>
public sealed record TensorSpec(string Name, string Dtype, IReadOnlyList<object?>? Shape)
{
    public override string ToString() =>
        Shape is null ? $"{Name} {Dtype}" : $"{Name} {Dtype}[{string.Join(",", Shape.Select(d => d?.ToString() ?? "?"))}]";
}

/// <summary>A published model version (<c>GET /v1/models/{cid}</c>).</summary>
public sealed record ModelInfo
{
    public required Cid Cid { get; init; }
    public required string Name { get; init; }
    public required string Version { get; init; }
    public string Description { get; init; } = "";
    public string License { get; init; } = "";
    public required Address Owner { get; init; }
    public ulong Timestamp { get; init; }
    public string Signature { get; init; } = "";
    public long Size { get; init; }
    public int ChunkSize { get; init; }
    public int ChunkCount { get; init; }
    public long Opset { get; init; }
    public IReadOnlyList<TensorSpec> Inputs { get; init; } = [];
    public IReadOnlyList<TensorSpec> Outputs { get; init; } = [];
    public DateTimeOffset? PublishedAt { get; init; }

    /// <summary>"model" (one ONNX file) or "bundle" (a folder: <see cref="Files"/>).</summary>
    public string Kind { get; init; } = "model";

    /// <summary>A bundle's files (path, size, CID); empty for a single-file model.</summary>
    public IReadOnlyList<BundleFile> Files { get; init; } = [];

    public bool IsBundle => Kind == "bundle";
}

/// <summary>Where a transfer stands: reported after every chunk.</summary>
/// <param name="BytesDone">Bytes of the content the destination has (including chunks it already had).</param>
/// <param name="TotalBytes">Size of the content.</param>
/// <param name="BytesTransferred">Bytes actually sent or received in this call.</param>
/// <param name="ChunksDone">Chunks the destination has.</param>
/// <param name="ChunkCount">Chunks in the content.</param>
/// <param name="BytesPerSecond">Throughput of this call so far (transferred bytes / elapsed).</param>
public readonly record struct TransferProgress(long BytesDone, long TotalBytes, long BytesTransferred, int ChunksDone, int ChunkCount, double BytesPerSecond);

/// <summary>What to publish a pushed model as.</summary>
public sealed record PushOptions
{
    public required string Name { get; init; }
    public string Version { get; init; } = "1.0.0";
    public string? Description { get; init; }
    public string? License { get; init; }
    /// <summary>Chunk size of the manifest; null uses the node's default (so the CID is the one every tool computes by default).</summary>
    public int? ChunkSize { get; init; }
}

/// <summary>What a push did; <see cref="Files"/> lists a bundle's files (empty for a single file).</summary>
public sealed record PushResult(Cid Cid, string Name, string Version, long Bytes, int ChunkCount, int ChunksUploaded, long BytesUploaded, TimeSpan Elapsed, ModelInfo Model,
    IReadOnlyList<BundleFile>? Files = null);

/// <summary>What a pull wrote: a file, or (<see cref="Files"/> not empty) a folder.</summary>
public sealed record PullResult(Cid Cid, string Path, long Bytes, int ChunkCount, TimeSpan Elapsed, IReadOnlyList<BundleFile>? Files = null);

/// <summary>An upload's state on the node (<c>POST/GET /v1/blobs</c>).</summary>
public sealed record BlobStatus(Cid Cid, long Size, int ChunkSize, int ChunkCount, IReadOnlyList<int> Missing, bool Complete);

/// <summary>
/// One inference as the SDK returns it: the inputs sent, the outputs and the receipt received, and
/// <see cref="Verification"/>, the outcome of checking the receipt against them (signature, signer,
/// model, mode, request id, input and output hashes). Always look at <see cref="Verification"/>.
/// </summary>
public sealed record InferenceResult
{
    public required Cid Model { get; init; }
    public required string Mode { get; init; }
    public required Hash256 RequestId { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Inputs { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Outputs { get; init; }
    public required Receipt Receipt { get; init; }
    public required VerificationResult Verification { get; init; }
    public double LatencyMs { get; init; }
    public Uri? Node { get; init; }

    /// <summary>Mode "proof": the node's proof (ProofEvidence.cs).</summary>
    public ProofEvidence? Proof { get; init; }

    /// <summary>Mode "proof": the outcome of checking <see cref="Proof"/> against the model's verifying key.</summary>
    public ProofCheck? ProofCheck { get; init; }

    public Hash256 InputHash => Receipt.InputHash;

    public Hash256 OutputHash => Receipt.OutputHash;

    /// <summary>The result file (<c>prova infer -o</c>) for this inference.</summary>
    public ResultFile ToResultFile() => new()
    {
        Model = Model,
        Mode = Mode,
        RequestId = RequestId,
        Inputs = Inputs,
        Outputs = Outputs,
        Receipts = [Receipt],
        Proof = Proof,
        Node = Node?.ToString(),
    };
}

internal static class Json
{
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 128 };

    public static string String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new ProvaClientException($"the node's answer has no string \"{name}\"", "bad-response");

    public static string? OptionalString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static long Int64(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n)
            ? n
            : throw new ProvaClientException($"the node's answer has no integer \"{name}\"", "bad-response");

    public static long OptionalInt64(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n : 0;

    public static ModelInfo ReadModel(JsonElement e) => new()
    {
        Cid = Cid.Parse(String(e, "cid")),
        Name = String(e, "name"),
        Version = String(e, "version"),
        Description = OptionalString(e, "description") ?? "",
        License = OptionalString(e, "license") ?? "",
        Owner = Address.Parse(String(e, "owner")),
        Timestamp = (ulong)OptionalInt64(e, "timestamp"),
        Signature = OptionalString(e, "signature") ?? "",
        Size = OptionalInt64(e, "size"),
        ChunkSize = (int)OptionalInt64(e, "chunkSize"),
        ChunkCount = (int)OptionalInt64(e, "chunkCount"),
        Opset = OptionalInt64(e, "opset"),
        Inputs = ReadSpecs(e, "inputs"),
        Outputs = ReadSpecs(e, "outputs"),
        PublishedAt = OptionalString(e, "publishedAt") is { } at && DateTimeOffset.TryParse(at, System.Globalization.CultureInfo.InvariantCulture, out var t) ? t : null,
        Kind = OptionalString(e, "kind") ?? "model",
        Files = ReadFiles(e),
    };

    private static List<BundleFile> ReadFiles(JsonElement e)
    {
        var list = new List<BundleFile>();
        if (e.TryGetProperty("files", out var array) && array.ValueKind == JsonValueKind.Array)
        {
            foreach (var f in array.EnumerateArray())
            {
                list.Add(new BundleFile(String(f, "path"), Int64(f, "size"), Cid.Parse(String(f, "cid"))));
            }
        }
        return list;
    }

    private static List<TensorSpec> ReadSpecs(JsonElement e, string name)
    {
        var list = new List<TensorSpec>();
        if (!e.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return list;
        }
        foreach (var spec in array.EnumerateArray())
        {
            List<object?>? shape = null;
            if (spec.TryGetProperty("shape", out var s) && s.ValueKind == JsonValueKind.Array)
            {
                shape = [];
                foreach (var d in s.EnumerateArray())
                {
                    shape.Add(d.ValueKind switch
                    {
                        JsonValueKind.Number => d.GetInt64(),
                        JsonValueKind.String => d.GetString(),
                        _ => null,
                    });
                }
            }
            list.Add(new TensorSpec(String(spec, "name"), OptionalString(spec, "dtype") ?? "?", shape));
        }
        return list;
    }
}
