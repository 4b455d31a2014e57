using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Sdk;

/// <summary>One check of a result file and its outcome.</summary>
public sealed record ResultCheck(string Name, bool Passed, string Message);

/// <summary>The outcome of verifying a result file: every check run, in order; the first failure ends it.</summary>
public sealed record ResultVerification(IReadOnlyList<ResultCheck> Checks, ResultFile? Result)
{
    public bool IsValid => Checks.Count > 0 && Checks.All(c => c.Passed);

    /// <summary>The failed check, if any.</summary>
    public ResultCheck? Failure => Checks.FirstOrDefault(c => !c.Passed);
}

/// <summary>What to check a result file against beyond its own consistency.</summary>
public sealed record ResultVerifierOptions
{
    /// <summary>The model's ONNX bytes: when given, its CID must be the result's model and re-executing it on the inputs must give the outputs bit for bit.</summary>
    public byte[]? ModelBytes { get; init; }

    /// <summary>
    /// A generation's model: a bundle folder (<see cref="ModelFolders.ResolveAsync"/>, or one the user has) or a model file.
    /// When given, its CID must be the result's model and re-running the signed request must give every signed token.
    /// </summary>
    public string? ModelPath { get; init; }

    /// <summary>Worker threads of a generation's re-execution (0: all cores; the tokens never depend on it).</summary>
    public int Threads { get; init; }

    /// <summary>Only accept receipts signed by this node.</summary>
    public Address? ExpectedSigner { get; init; }

    /// <summary>Only accept receipts for this chain.</summary>
    public System.Numerics.BigInteger? ExpectedChainId { get; init; }

    /// <summary>Chunk size used to compute the CID of <see cref="ModelBytes"/> (the node default unless the model was pushed otherwise).</summary>
    public int ChunkSize { get; init; } = ModelManifest.DefaultChunkSize;
}

/// <summary>
/// Offline verification of a result file (docs/cli.md): the file is well formed, every receipt's
/// signature recovers to its node, the receipt names the file's model, mode and request id, the
/// included inputs and outputs hash to the signed hashes, and — when the model is at hand — the
/// model's CID matches and Prova's deterministic engine re-computes identical output bytes.
/// </summary>
public static class ResultVerifier
{
    public static ResultVerification Verify(byte[] json, ResultVerifierOptions? options = null)
    {
        options ??= new ResultVerifierOptions();
        var checks = new List<ResultCheck>();
        var result = Parse(json, checks, out var statedHashes);
        if (result is null)
        {
            return new ResultVerification(checks, null);
        }
        // The receipts first: a changed tensor is reported as what it breaks (the signed hash), then
        // the convenience hashes next to the tensors must agree too.
        if (!CheckReceipts(result, options, checks)
            || !CheckHashField(statedHashes.Input, "inputHash", Receipt.HashTensors(result.Inputs), "inputs", checks)
            || !CheckHashField(statedHashes.Output, "outputHash", Receipt.HashTensors(result.Outputs), "outputs", checks))
        {
            return new ResultVerification(checks, result);
        }
        if (result.Mode == ProofEvidence.Mode)
        {
            // The proof replaces re-execution (ProofEvidence.cs).
            ProofResultCheck.Check(result, options, checks);
        }
        else if (result.IsGeneration)
        {
            if (options.ModelPath is { } path)
            {
                CheckGeneration(result, path, options, checks);
            }
            else if (options.ModelBytes is not null)
            {
                Fail(checks, "model", "a generation is re-executed from its model folder (the bundle: model.onnx, tokenizer, configs), not from a single model's bytes");
            }
        }
        else if (options.ModelBytes is { } model)
        {
            CheckModel(result, model, options.ChunkSize, checks);
        }
        return new ResultVerification(checks, result);
    }

    private static bool Fail(List<ResultCheck> checks, string name, string message)
    {
        checks.Add(new ResultCheck(name, false, message));
        return false;
    }

    private static void Pass(List<ResultCheck> checks, string name, string message) => checks.Add(new ResultCheck(name, true, message));

    private static ResultFile? Parse(byte[] json, List<ResultCheck> checks, out (JsonElement? Input, JsonElement? Output) statedHashes)
    {
        statedHashes = default;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, Json.DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw new ResultFileException($"not a result file: invalid JSON ({ex.Message})", ex);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ResultFileException($"not a result file: expected a JSON object, got {root.ValueKind}");
            }
            if (!root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String || !Cid.TryParse(m.GetString(), out var model, out string? problem))
            {
                Fail(checks, "format", "\"model\" is missing or not a CID" + (m.ValueKind == JsonValueKind.String ? $": {problemOf(m.GetString())}" : ""));
                return null;
            }
            string? mode = root.TryGetProperty("mode", out var md) && md.ValueKind == JsonValueKind.String ? md.GetString() : null;
            if (mode is null)
            {
                Fail(checks, "format", "\"mode\" is missing");
                return null;
            }
            Hash256? requestId = null;
            if (root.TryGetProperty("requestId", out var rid) && rid.ValueKind != JsonValueKind.Null)
            {
                if (rid.ValueKind != JsonValueKind.String || !Hash256.TryParse(rid.GetString(), out var parsedId))
                {
                    Fail(checks, "format", "\"requestId\" is not 0x + 64 hex digits");
                    return null;
                }
                requestId = parsedId;
            }
            Dictionary<string, Tensor> inputs, outputs;
            try
            {
                inputs = TensorJson.ReadNamedTensors(json, "inputs");
            }
            catch (TensorFormatException ex)
            {
                Fail(checks, "inputs", $"the inputs are malformed: {ex.Message}");
                return null;
            }
            try
            {
                outputs = TensorJson.ReadNamedTensors(json, "outputs");
            }
            catch (TensorFormatException ex)
            {
                Fail(checks, "outputs", $"the outputs are malformed: {ex.Message}");
                return null;
            }
            if (!root.TryGetProperty("evidence", out var evidence) || evidence.ValueKind != JsonValueKind.Object
                || !evidence.TryGetProperty("receipts", out var array) || array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
            {
                Fail(checks, "evidence", "the result carries no receipts (\"evidence\": {\"receipts\": [...]})");
                return null;
            }
            var receipts = new List<Receipt>();
            int index = 0;
            foreach (var r in array.EnumerateArray())
            {
                try
                {
                    receipts.Add(Receipt.FromJson(r));
                }
                catch (ReceiptFormatException ex)
                {
                    Fail(checks, "receipt", $"receipt {index} is malformed: {ex.Message}");
                    return null;
                }
                index++;
            }
            ProofEvidence? proof = null;
            if (evidence.TryGetProperty("proof", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                proof = ProofEvidence.TryRead(p, out string? proofProblem);
                if (proof is null)
                {
                    Fail(checks, "proof", $"the proof is malformed: {proofProblem}");
                    return null;
                }
            }
            QuorumVerdict? verdict;
            try
            {
                verdict = QuorumVerdict.Read(root);
            }
            catch (EvidenceFormatException ex)
            {
                Fail(checks, "verdict", $"the quorum verdict is malformed: {ex.Message}");
                return null;
            }
            string? node = root.TryGetProperty("node", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            var file = new ResultFile
            {
                Model = model,
                Mode = mode,
                RequestId = requestId,
                Inputs = inputs,
                Outputs = outputs,
                Receipts = receipts,
                Proof = proof,
                Node = node,
                Verdict = verdict,
            };
            statedHashes = (Stated(root, "inputHash"), Stated(root, "outputHash"));
            Pass(checks, "format", $"model {model}, mode {mode}, {inputs.Count} input(s), {outputs.Count} output(s), {receipts.Count} receipt(s)");
            return file;
        }

        static string problemOf(string? text) => Cid.TryParse(text, out _, out string? p) ? "" : p ?? "";
    }

    private static JsonElement? Stated(JsonElement root, string field) =>
        root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null ? value.Clone() : null;

    private static bool CheckHashField(JsonElement? stated, string field, Hash256 actual, string what, List<ResultCheck> checks)
    {
        if (stated is not { } value)
        {
            return true;
        }
        if (value.ValueKind != JsonValueKind.String || !Hash256.TryParse(value.GetString(), out var hash))
        {
            return Fail(checks, field, $"\"{field}\" is not 0x + 64 hex digits");
        }
        if (hash != actual)
        {
            return Fail(checks, field, $"the included {what} hash to {actual}, the file's \"{field}\" says {hash}");
        }
        return true;
    }

    private static bool CheckReceipts(ResultFile result, ResultVerifierOptions options, List<ResultCheck> checks)
    {
        if (QuorumMode.TryParse(result.Mode, out int k))
        {
            // quorum:K: K receipts from K distinct nodes, each checked below against the one set of outputs.
            int distinct = result.Receipts.Select(r => r.Node).Distinct().Count();
            if (result.Receipts.Count != k || distinct != k)
            {
                return Fail(checks, "quorum", $"mode {result.Mode} needs {k} receipts from {k} distinct nodes; the file has {result.Receipts.Count} receipt(s) from {distinct} node(s)");
            }
        }
        else if (result.Mode != Receipt.AttestedMode && result.Mode != ProofEvidence.Mode)
        {
            return Fail(checks, "mode", $"mode '{result.Mode}' cannot be verified by this version (only '{Receipt.AttestedMode}', '{ProofEvidence.Mode}' and 'quorum:K')");
        }
        var signers = new HashSet<Address>();
        for (int i = 0; i < result.Receipts.Count; i++)
        {
            var receipt = result.Receipts[i];
            string label = result.Receipts.Count == 1 ? "receipt" : $"receipt {i}";
            var v = receipt.Verify(result.Inputs, result.Outputs, result.Model, options.ExpectedSigner, options.ExpectedChainId, result.RequestId, result.Mode);
            if (!v.IsValid)
            {
                string name = v.Reason switch
                {
                    VerificationReason.BadSignature => "signature",
                    VerificationReason.SignerMismatch => "signer",
                    VerificationReason.ChainMismatch => "chain",
                    VerificationReason.ModelMismatch => "model",
                    VerificationReason.ModeMismatch => "mode",
                    VerificationReason.RequestMismatch => "request",
                    VerificationReason.InputHashMismatch => "inputs",
                    VerificationReason.OutputHashMismatch => "outputs",
                    _ => "receipt",
                };
                return Fail(checks, name, $"{label}: {v.Message}");
            }
            signers.Add(receipt.Node);
        }
        Pass(checks, "signature", $"signed by {string.Join(", ", signers)} (EIP-712, chain {result.Receipts[0].ChainId})");
        if (k > 0)
        {
            Pass(checks, "quorum", $"{k} distinct nodes signed the same output hash");
        }
        Pass(checks, "hashes", $"inputs {result.Receipts[0].InputHash}, outputs {result.Receipts[0].OutputHash}");
        return true;
    }

    private static void CheckGeneration(ResultFile result, string path, ResultVerifierOptions options, List<ResultCheck> checks)
    {
        try
        {
            if (GenerationReplay.CheckModel(path, result.Model, options.ChunkSize) is { } problem)
            {
                Fail(checks, "model", problem);
                return;
            }
        }
        catch (Exception ex) when (ex is ProvaException or IOException or UnauthorizedAccessException)
        {
            Fail(checks, "model", $"cannot read the model at '{path}': {ex.Message}");
            return;
        }
        Pass(checks, "model", $"the model folder is {result.Model}");
        ReplayedGeneration replay;
        try
        {
            replay = GenerationReplay.Run(path, result.Inputs, options.Threads);
        }
        catch (ProvaException ex)
        {
            Fail(checks, "re-execution", $"the generation cannot be re-run: {ex.Message}");
            return;
        }
        if (GenerationReplay.Compare(replay, result.Outputs) is { } difference)
        {
            Fail(checks, "re-execution", difference);
            return;
        }
        Pass(checks, "re-execution", $"Prova's engine re-generated all {replay.Ids.Length} tokens identically");
    }

    private static void CheckModel(ResultFile result, byte[] modelBytes, int chunkSize, List<ResultCheck> checks)
    {
        var cid = ModelManifest.Build(modelBytes, chunkSize).Cid;
        if (cid != result.Model)
        {
            Fail(checks, "model", $"the model file has CID {cid}, the result is for {result.Model}");
            return;
        }
        Pass(checks, "model", $"the model file is {cid}");
        Dictionary<string, Tensor> recomputed;
        try
        {
            var model = OnnxLoader.Load(modelBytes);
            using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
            recomputed = session.Run(result.Inputs);
        }
        catch (ProvaException ex)
        {
            Fail(checks, "re-execution", $"the model cannot be run on the result's inputs: {ex.Message}");
            return;
        }
        foreach (var name in result.Outputs.Keys.Order(StringComparer.Ordinal))
        {
            if (!recomputed.TryGetValue(name, out var mine))
            {
                Fail(checks, "re-execution", $"the model has no output '{name}'");
                return;
            }
            var theirs = result.Outputs[name];
            if (!TensorEncoding.Encode(mine).AsSpan().SequenceEqual(TensorEncoding.Encode(theirs)))
            {
                Fail(checks, "re-execution", $"output '{name}' differs from Prova's re-execution (hash {TensorEncoding.Hash(mine)} recomputed, {TensorEncoding.Hash(theirs)} in the result)");
                return;
            }
        }
        if (recomputed.Count != result.Outputs.Count)
        {
            Fail(checks, "re-execution", $"the model has {recomputed.Count} outputs, the result {result.Outputs.Count}");
            return;
        }
        Pass(checks, "re-execution", "Prova's engine re-computed the outputs bit for bit");
    }

    /// <summary>Reads the content of <paramref name="cid"/> from a node's store directory (docs/node-api.md "Store layout"), verifying every chunk; null when the store does not hold it.</summary>
    public static byte[]? ReadFromStore(string storeDirectory, Cid cid)
    {
        string manifestPath = Path.Combine(storeDirectory, "manifests", cid.ToString());
        if (!File.Exists(manifestPath))
        {
            return null;
        }
        byte[] manifestBytes = File.ReadAllBytes(manifestPath);
        if (Cid.ForBytes(manifestBytes) != cid)
        {
            throw new ResultFileException($"the store's manifest for {cid} is corrupted");
        }
        var manifest = ModelManifest.Decode(manifestBytes);
        if (manifest.Size > int.MaxValue)
        {
            throw new ResultFileException($"model {cid} is too large to re-execute ({manifest.Size} bytes)");
        }
        var content = new byte[manifest.Size];
        for (int i = 0; i < manifest.ChunkCount; i++)
        {
            string chunkPath = Path.Combine(storeDirectory, "chunks", Convert.ToHexStringLower(manifest.ChunkHashes[i].ToArray()));
            if (!File.Exists(chunkPath))
            {
                return null;
            }
            byte[] chunk = File.ReadAllBytes(chunkPath);
            if (!manifest.Verify(i, chunk))
            {
                throw new ResultFileException($"chunk {i} of {cid} in the store is corrupted");
            }
            chunk.CopyTo(content, manifest.ChunkOffset(i));
        }
        return content;
    }
}
