using System.Diagnostics;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Proofs.Inference;

namespace Prova.Sdk;

/// <summary>
/// The proof a node returns in mode <c>proof</c>, as carried in its answer and in a result file's
/// evidence (docs/proofs.md "Product"): <c>{"format": "PRVP", "version": 4, "keyDigest": "0x…",
/// "size": n, "proveMs": ms, "data": "&lt;base64 PRVP bytes&gt;"}</c>.
/// </summary>
public sealed record ProofEvidence
{
    /// <summary>The mode string of proven inferences (receipts are signed with it).</summary>
    public const string Mode = "proof";

    public const string FormatName = "PRVP";

    /// <summary>Largest proof accepted from a node or a file (the PRVP format's own bound).</summary>
    public const int MaxBytes = ProofFormat.MaxBytes;

    /// <summary>The SHA-256 verifying-key digest the node says it proved with (the PRVP bytes carry it too).</summary>
    public required byte[] KeyDigest { get; init; }

    /// <summary>The PRVP proof bytes (docs/proofs.md "Proof binary format").</summary>
    public required byte[] Data { get; init; }

    /// <summary>The node's proving time (informational, not checked).</summary>
    public double? ProveMs { get; init; }

    public string KeyDigestHex => "0x" + Convert.ToHexStringLower(KeyDigest);

    /// <summary>Writes the proof object (the caller has written the property name).</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("format", FormatName);
        writer.WriteNumber("version", ProofFormat.Version);
        writer.WriteString("keyDigest", KeyDigestHex);
        writer.WriteNumber("size", Data.Length);
        if (ProveMs is { } ms)
        {
            writer.WriteNumber("proveMs", Math.Round(ms, 3));
        }
        writer.WriteBase64String("data", Data);
        writer.WriteEndObject();
    }

    /// <summary>Reads a proof object; null with <paramref name="problem"/> naming what is wrong.</summary>
    public static ProofEvidence? TryRead(JsonElement e, out string? problem)
    {
        problem = null;
        if (e.ValueKind != JsonValueKind.Object)
        {
            problem = "\"proof\" is not an object";
            return null;
        }
        if (!e.TryGetProperty("format", out var f) || f.ValueKind != JsonValueKind.String || f.GetString() != FormatName)
        {
            problem = $"\"proof.format\" is not \"{FormatName}\"";
            return null;
        }
        if (!e.TryGetProperty("version", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version) || version != ProofFormat.Version)
        {
            problem = $"\"proof.version\" is not {ProofFormat.Version} (this version reads PRVP v{ProofFormat.Version} only)";
            return null;
        }
        byte[]? digest = null;
        if (e.TryGetProperty("keyDigest", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() is { Length: 66 } hex && hex.StartsWith("0x", StringComparison.Ordinal))
        {
            try
            {
                digest = Convert.FromHexString(hex.AsSpan(2));
            }
            catch (FormatException)
            {
            }
        }
        if (digest is null)
        {
            problem = "\"proof.keyDigest\" is not 0x + 64 hex digits";
            return null;
        }
        if (!e.TryGetProperty("data", out var d) || d.ValueKind != JsonValueKind.String || !d.TryGetBytesFromBase64(out byte[]? data))
        {
            problem = "\"proof.data\" is not base64";
            return null;
        }
        if (data.Length > MaxBytes)
        {
            problem = $"the proof is {data.Length} bytes, above the limit of {MaxBytes}";
            return null;
        }
        double? ms = e.TryGetProperty("proveMs", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : null;
        return new ProofEvidence { KeyDigest = digest, Data = data, ProveMs = ms };
    }
}

/// <summary>The outcome of checking a proof: valid or not, one line saying why, and the verifier's time.</summary>
public sealed record ProofCheck(bool Valid, string Message, double VerifyMs);

/// <summary>
/// Verifies proofs against the verifying key derived from the model file (<see cref="ProofCircuit"/>).
/// The key is the model itself: anyone holding the model bytes whose CID is the result's model can
/// check. Keys are cached process-wide (least recently used evicted beyond <see cref="MaxCachedModelBytes"/>).
/// </summary>
public static class ProofVerification
{
    /// <summary>Total size of the model files whose verifying keys are kept in memory.</summary>
    public const long MaxCachedModelBytes = 256L << 20;

    private static readonly Lock s_gate = new();
    private static readonly Dictionary<Cid, (ProofCircuit Circuit, long Bytes, long LastUse)> s_cache = [];
    private static long s_bytes;
    private static long s_clock;

    /// <summary>
    /// Checks that <paramref name="proof"/> proves <paramref name="model"/> maps <paramref name="inputs"/> to
    /// <paramref name="outputs"/>, and that it was made for the receipt's request id and node (<paramref name="binding"/>):
    /// a proof replayed for another request or presented by another node is refused.
    /// </summary>
    public static ProofCheck Verify(ProofCircuit circuit, Cid model, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, ProofEvidence proof, ProofBinding binding)
    {
        long start = Stopwatch.GetTimestamp();
        if (circuit.ModelCid != model)
        {
            return new ProofCheck(false, $"the verifying key is for model {circuit.ModelCid}, the result is for {model}", 0);
        }
        if (!proof.KeyDigest.AsSpan().SequenceEqual(circuit.KeyDigest))
        {
            return new ProofCheck(false, $"the proof names verifying key {proof.KeyDigestHex}; model {model} has key 0x{Convert.ToHexStringLower(circuit.KeyDigest)} (a proof for another model?)", 0);
        }
        bool ok;
        string? problem;
        lock (circuit)
        {
            // A circuit's light-graph session runs one verification at a time.
            try
            {
                ok = InferenceVerifier.TryVerify(circuit, inputs, outputs, proof.Data, binding, out problem);
            }
            catch (ProvaException ex)
            {
                (ok, problem) = (false, ex.Message);
            }
        }
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return ok
            ? new ProofCheck(true, $"PRVP v{ProofFormat.Version} proof ({proof.Data.Length:N0} bytes) verified in {ms:0.#} ms against key {proof.KeyDigestHex[..18]}… of {model}", ms)
            : new ProofCheck(false, $"the proof does not verify: {problem}", ms);
    }

    /// <summary>Derives (or takes from the cache) the verifying key of the model file; throws <see cref="ProofException"/> (proof-unsupported) for a model that cannot be proven.</summary>
    public static ProofCircuit Key(byte[] modelBytes, int chunkSize = ModelManifest.DefaultChunkSize)
    {
        var cid = ModelManifest.Build(modelBytes, chunkSize).Cid;
        return CachedKey(cid) ?? AddKey(cid, ProofCircuit.FromModelBytes(modelBytes, 1, chunkSize), modelBytes.Length);
    }

    /// <summary>The cached verifying key of <paramref name="model"/>, if any.</summary>
    public static ProofCircuit? CachedKey(Cid model)
    {
        lock (s_gate)
        {
            if (s_cache.TryGetValue(model, out var e))
            {
                s_cache[model] = e with { LastUse = ++s_clock };
                return e.Circuit;
            }
            return null;
        }
    }

    private static ProofCircuit AddKey(Cid cid, ProofCircuit circuit, long bytes)
    {
        lock (s_gate)
        {
            if (s_cache.TryGetValue(cid, out var raced))
            {
                circuit.Dispose();
                return raced.Circuit;
            }
            if (bytes > MaxCachedModelBytes)
            {
                return circuit;
            }
            s_cache[cid] = (circuit, bytes, ++s_clock);
            s_bytes += bytes;
            while (s_bytes > MaxCachedModelBytes)
            {
                // Evicted keys are not disposed: a verification may still hold them (the GC reclaims them).
                var victim = s_cache.Where(e => e.Key != cid).OrderBy(e => e.Value.LastUse).First();
                s_cache.Remove(victim.Key);
                s_bytes -= victim.Value.Bytes;
            }
            return circuit;
        }
    }
}

/// <summary>The checks <see cref="ResultVerifier"/> runs on a result of mode "proof", after its receipt and hashes.</summary>
internal static class ProofResultCheck
{
    public static void Check(ResultFile result, ResultVerifierOptions options, List<ResultCheck> checks)
    {
        if (result.Proof is not { } proof)
        {
            checks.Add(new ResultCheck("proof", false, "the result is of mode 'proof' but carries no proof (\"evidence\": {\"proof\": {...}})"));
            return;
        }
        if (options.ModelBytes is not { } modelBytes)
        {
            checks.Add(new ResultCheck("proof", false, $"the verifying key is derived from the model file: give the model {result.Model} (--model file.onnx, --store D or --node URL)"));
            return;
        }
        var cid = ModelManifest.Build(modelBytes, options.ChunkSize).Cid;
        if (cid != result.Model)
        {
            checks.Add(new ResultCheck("model", false, $"the model file has CID {cid}, the result is for {result.Model}"));
            return;
        }
        checks.Add(new ResultCheck("model", true, $"the model file is {cid}"));
        ProofCircuit key;
        try
        {
            key = ProofVerification.Key(modelBytes, options.ChunkSize);
        }
        catch (ProofException ex)
        {
            checks.Add(new ResultCheck("proof", false, $"model {cid} has no verifying key: {ex.Message}"));
            return;
        }
        if (result.Receipts.Count == 0)
        {
            checks.Add(new ResultCheck("proof", false, "a proof is bound to the receipt's request id and node, and the result carries no receipt"));
            return;
        }
        var receipt = result.Receipts[0];
        var check = ProofVerification.Verify(key, result.Model, result.Inputs, result.Outputs, proof, new ProofBinding(receipt.RequestId, receipt.Node));
        checks.Add(new ResultCheck("proof", check.Valid, check.Message));
    }
}
