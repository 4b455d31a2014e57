using System.Text.Json;

namespace Prova.Evm.Abi;

/// <summary>A contract's JSON ABI: its functions, events, errors and constructor.</summary>
public sealed class AbiContract
{
    private AbiContract(IReadOnlyList<AbiFunction> functions, IReadOnlyList<AbiEvent> events, IReadOnlyList<AbiError> errors, AbiFunction constructor)
    {
        Functions = functions;
        Events = events;
        Errors = errors;
        Constructor = constructor;
    }

    public IReadOnlyList<AbiFunction> Functions { get; }

    public IReadOnlyList<AbiEvent> Events { get; }

    public IReadOnlyList<AbiError> Errors { get; }

    /// <summary>The constructor's inputs (a function named "constructor"; no inputs when the ABI has none).</summary>
    public AbiFunction Constructor { get; }

    /// <summary>The function named <paramref name="nameOrSignature"/> ("transfer" or "transfer(address,uint256)").</summary>
    public AbiFunction Function(string nameOrSignature)
    {
        var matches = Functions.Where(f => f.Signature == nameOrSignature || f.Name == nameOrSignature).ToArray();
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new AbiException($"the ABI has no function '{nameOrSignature}'"),
            _ => matches.FirstOrDefault(f => f.Signature == nameOrSignature)
                ?? throw new AbiException($"'{nameOrSignature}' is overloaded; use the full signature ({string.Join(", ", matches.Select(m => m.Signature))})"),
        };
    }

    public AbiEvent Event(string nameOrSignature) =>
        Events.FirstOrDefault(e => e.Signature == nameOrSignature || e.Name == nameOrSignature)
        ?? throw new AbiException($"the ABI has no event '{nameOrSignature}'");

    public static AbiContract Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return FromJson(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new AbiException("the contract ABI is not valid JSON: " + e.Message, e);
        }
    }

    /// <summary>Reads an ABI array, or an object with an "abi" property (a compiler artifact).</summary>
    public static AbiContract FromJson(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("abi", out var abi))
        {
            root = abi;
        }
        if (root.ValueKind != JsonValueKind.Array)
        {
            throw new AbiException("a contract ABI must be a JSON array of entries");
        }
        var functions = new List<AbiFunction>();
        var events = new List<AbiEvent>();
        var errors = new List<AbiError>();
        AbiFunction? constructor = null;
        foreach (var entry in root.EnumerateArray())
        {
            string type = entry.TryGetProperty("type", out var t) ? t.GetString() ?? "function" : "function";
            string name = entry.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            var inputs = Parameters(entry, "inputs");
            switch (type)
            {
                case "function":
                    functions.Add(new AbiFunction(name, inputs, Parameters(entry, "outputs"), Mutability(entry)));
                    break;
                case "constructor":
                    constructor = new AbiFunction("constructor", inputs, [], Mutability(entry));
                    break;
                case "event":
                    events.Add(new AbiEvent(name, inputs, entry.TryGetProperty("anonymous", out var a) && a.ValueKind == JsonValueKind.True));
                    break;
                case "error":
                    errors.Add(new AbiError(name, inputs));
                    break;
                default:
                    break; // fallback, receive
            }
        }
        return new AbiContract(functions, events, errors, constructor ?? new AbiFunction("constructor", [], [], "nonpayable"));
    }

    private static string Mutability(JsonElement entry) =>
        entry.TryGetProperty("stateMutability", out var m) ? m.GetString() ?? "nonpayable" : "nonpayable";

    private static AbiParameter[] Parameters(JsonElement entry, string property)
    {
        if (!entry.TryGetProperty(property, out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return [];
        }
        return list.EnumerateArray().Select(Parameter).ToArray();
    }

    private static AbiParameter Parameter(JsonElement p)
    {
        string name = p.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
        string type = p.TryGetProperty("type", out var t) ? t.GetString() ?? "" : throw new AbiException($"ABI parameter '{name}' has no type");
        bool indexed = p.TryGetProperty("indexed", out var i) && i.ValueKind == JsonValueKind.True;
        string? internalType = p.TryGetProperty("internalType", out var it) ? it.GetString() : null;
        AbiType abiType;
        if (type.StartsWith("tuple", StringComparison.Ordinal))
        {
            var components = Parameters(p, "components");
            abiType = AbiType.WithArraySuffix(AbiType.Tuple(components), type[5..]);
        }
        else
        {
            abiType = AbiType.Parse(type);
        }
        return new AbiParameter(name, abiType, indexed, internalType);
    }
}
