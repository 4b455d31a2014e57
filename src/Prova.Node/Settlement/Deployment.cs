using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Crypto;

namespace Prova.Node.Settlement;

/// <summary>A deployment file is missing, malformed or names no contract where one is needed.</summary>
public sealed class DeploymentException : ProvaException
{
    public DeploymentException(string message) : base(message) { }

    public DeploymentException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Where the Prova contracts live on one chain: what <c>prova devnet up</c> writes and
/// <c>prova node start --chain URL --deployment FILE</c> reads (docs/settlement-node.md):
/// <code>
/// {"kind": "prova-deployment/v1", "rpc": "http://127.0.0.1:8545", "chainId": "31337",
///  "contracts": {"ModelRegistry": "0x…", "NodeRegistry": "0x…", "Settlement": "0x…", "InferenceRequests": "0x…"},
///  "block": 1}
/// </code>
/// </summary>
public sealed record Deployment
{
    public const string Kind = "prova-deployment/v1";

    /// <summary>The largest deployment file read (it is a few hundred bytes).</summary>
    public const int MaxBytes = 64 * 1024;

    public required string Rpc { get; init; }

    public required BigInteger ChainId { get; init; }

    public required Address ModelRegistry { get; init; }

    public required Address NodeRegistry { get; init; }

    public required Address Settlement { get; init; }

    public required Address InferenceRequests { get; init; }

    /// <summary>The block the contracts were deployed in (event scans start there).</summary>
    public ulong Block { get; init; }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("kind", Kind);
            writer.WriteString("rpc", Rpc);
            writer.WriteString("chainId", ChainId.ToString(CultureInfo.InvariantCulture));
            writer.WriteStartObject("contracts");
            writer.WriteString("ModelRegistry", ModelRegistry.ToString());
            writer.WriteString("NodeRegistry", NodeRegistry.ToString());
            writer.WriteString("Settlement", Settlement.ToString());
            writer.WriteString("InferenceRequests", InferenceRequests.ToString());
            writer.WriteEndObject();
            writer.WriteNumber("block", Block);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public void Save(string path)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, ToJson() + "\n");
        File.Move(temp, path, overwrite: true);
    }

    public static Deployment Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new DeploymentException($"deployment file '{path}' does not exist (prova devnet up writes one)");
        }
        if (info.Length > MaxBytes)
        {
            throw new DeploymentException($"deployment file '{path}' is {info.Length} bytes; at most {MaxBytes} are read");
        }
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (DeploymentException ex)
        {
            throw new DeploymentException($"deployment file '{path}': {ex.Message}", ex);
        }
    }

    public static Deployment Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new DeploymentException($"invalid JSON: {ex.Message}", ex);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new DeploymentException("expected a JSON object");
            }
            if (String(root, "kind") != Kind)
            {
                throw new DeploymentException($"\"kind\" must be \"{Kind}\"");
            }
            string chainText = String(root, "chainId");
            if (chainText.Length is 0 or > 78 || !BigInteger.TryParse(chainText, NumberStyles.None, CultureInfo.InvariantCulture, out var chainId))
            {
                throw new DeploymentException("\"chainId\" must be a decimal integer string");
            }
            if (!root.TryGetProperty("contracts", out var contracts) || contracts.ValueKind != JsonValueKind.Object)
            {
                throw new DeploymentException("\"contracts\" must be an object of contract name → address");
            }
            ulong block = 0;
            if (root.TryGetProperty("block", out var b) && !(b.ValueKind == JsonValueKind.Number && b.TryGetUInt64(out block)))
            {
                throw new DeploymentException("\"block\" must be an unsigned integer");
            }
            return new Deployment
            {
                Rpc = String(root, "rpc"),
                ChainId = chainId,
                ModelRegistry = Contract(contracts, "ModelRegistry"),
                NodeRegistry = Contract(contracts, "NodeRegistry"),
                Settlement = Contract(contracts, "Settlement"),
                InferenceRequests = Contract(contracts, "InferenceRequests"),
                Block = block,
            };
        }
    }

    private static string String(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new DeploymentException($"\"{name}\" must be a string");

    private static Address Contract(JsonElement contracts, string name) =>
        Address.TryParse(String(contracts, name), out var address) && address != Address.Zero
            ? address
            : throw new DeploymentException($"contracts.{name} must be a non-zero address (0x + 40 hex digits)");
}
