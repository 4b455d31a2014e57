using System.Buffers;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;

namespace Prova.Sdk;

/// <summary>A result file cannot be read at all (missing, not JSON, not an object): exit code 2, not a verification failure.</summary>
public sealed class ResultFileException : ProvaException
{
    public ResultFileException(string message) : base(message) { }

    public ResultFileException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The result file of <c>prova infer -o result.json</c> (docs/cli.md): the model CID, mode, request id,
/// the inputs and outputs, their hashes, and the evidence (the node's receipts):
/// <code>{"model", "mode", "requestId", "inputs": {...}, "outputs": {...}, "inputHash", "outputHash", "evidence": {"receipts": [...]}, "node"}</code>
/// </summary>
public sealed record ResultFile
{
    public const string FormatName = "prova-result/1";

    public required Cid Model { get; init; }
    public required string Mode { get; init; }
    public Hash256? RequestId { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Inputs { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Outputs { get; init; }
    public required IReadOnlyList<Receipt> Receipts { get; init; }
    /// <summary>Mode "proof": the proof, written as <c>"evidence": {"receipts": [...], "proof": {...}}</c> (ProofEvidence.cs).</summary>
    public ProofEvidence? Proof { get; init; }
    /// <summary>The URL of the node that answered (informational).</summary>
    public string? Node { get; init; }
    /// <summary>A quorum answered through a node's OpenAI-compatible API: whether its K nodes agreed, and on disagreement the evidence.</summary>
    public QuorumVerdict? Verdict { get; init; }

    /// <summary>True when the inputs are a generation request (docs/verified-chat.md): the outputs are token ids and text.</summary>
    public bool IsGeneration => Prova.Lm.GenerationRequest.IsGenerationRequest(Inputs);

    public byte[] ToJsonBytes()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("format", FormatName);
            writer.WriteString("model", Model.ToString());
            writer.WriteString("mode", Mode);
            if (RequestId is { } id)
            {
                writer.WriteString("requestId", id.ToString());
            }
            if (Node is not null)
            {
                writer.WriteString("node", Node);
            }
            writer.WriteString("inputHash", Receipt.HashTensors(Inputs).ToString());
            writer.WriteString("outputHash", Receipt.HashTensors(Outputs).ToString());
            writer.WritePropertyName("inputs");
            TensorJson.WriteTensorMap(writer, Inputs);
            writer.WritePropertyName("outputs");
            TensorJson.WriteTensorMap(writer, Outputs);
            writer.WriteStartObject("evidence");
            writer.WriteStartArray("receipts");
            foreach (var receipt in Receipts)
            {
                receipt.WriteJson(writer);
            }
            writer.WriteEndArray();
            if (Proof is not null)
            {
                writer.WritePropertyName("proof");
                Proof.WriteJson(writer);
            }
            writer.WriteEndObject();
            if (Verdict is not null)
            {
                writer.WritePropertyName("verdict");
                Verdict.WriteJson(writer);
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public string ToJson() => Encoding.UTF8.GetString(ToJsonBytes());

    /// <summary>Writes the file atomically (temporary file, fsync, rename).</summary>
    public void Save(string path) => WriteAtomically(path, ToJsonBytes());

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> through a temporary file, fsync and rename, so a reader never sees half a file.</summary>
    internal static void WriteAtomically(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
            }
            throw new ResultFileException($"cannot write '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Reads the file's bytes (at most <paramref name="maxBytes"/>) and checks it is a JSON object; the fields are checked by <see cref="ResultVerifier"/>.</summary>
    public static byte[] ReadBytes(string path, long maxBytes = 1L << 30)
    {
        if (Directory.Exists(path))
        {
            throw new ResultFileException($"'{path}' is a directory, not a result file");
        }
        if (!File.Exists(path))
        {
            throw new ResultFileException($"result file '{path}' does not exist");
        }
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.Length > maxBytes)
            {
                throw new ResultFileException($"result file '{path}' is {info.Length} bytes, above the limit of {maxBytes}");
            }
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ResultFileException($"cannot read '{path}': {ex.Message}", ex);
        }
        try
        {
            using var doc = JsonDocument.Parse(bytes, Json.DocumentOptions);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ResultFileException($"'{path}' is not a result file: expected a JSON object, got {doc.RootElement.ValueKind}");
            }
        }
        catch (JsonException ex)
        {
            throw new ResultFileException($"'{path}' is not a result file: invalid JSON ({ex.Message})", ex);
        }
        return bytes;
    }
}
