using System.Collections.Concurrent;
using System.Text.Json;
using Prova.Evm.Abi;

namespace Prova.Node.Settlement;

/// <summary>A compiled Prova contract (contracts/out/&lt;Name&gt;.json, embedded in this assembly).</summary>
public sealed record ContractArtifact(string Name, AbiContract Abi, byte[] Bytecode)
{
    public IReadOnlyList<AbiError> Errors => Abi.Errors;
}

/// <summary>The compiled Prova contracts: ModelRegistry, NodeRegistry, Settlement, InferenceRequests, ExampleConsumer, ExampleChatConsumer.</summary>
public static class ProvaContracts
{
    private static readonly ConcurrentDictionary<string, ContractArtifact> s_cache = new(StringComparer.Ordinal);

    public static ContractArtifact ModelRegistry => Get("ModelRegistry");

    public static ContractArtifact NodeRegistry => Get("NodeRegistry");

    public static ContractArtifact Settlement => Get("Settlement");

    public static ContractArtifact InferenceRequests => Get("InferenceRequests");

    public static ContractArtifact ExampleConsumer => Get("ExampleConsumer");

    public static ContractArtifact ExampleChatConsumer => Get("ExampleChatConsumer");

    public static ContractArtifact Get(string name) => s_cache.GetOrAdd(name, Load);

    private static ContractArtifact Load(string name)
    {
        using var stream = typeof(ProvaContracts).Assembly.GetManifestResourceStream($"Prova.Contracts.{name}.json")
            ?? throw new ArgumentException($"no compiled contract '{name}' is embedded (contracts/out/{name}.json)", nameof(name));
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;
        var abi = AbiContract.FromJson(root);
        byte[] bytecode = root.TryGetProperty("bytecode", out var b) && b.GetString() is { Length: > 2 } hex
            ? Convert.FromHexString(hex.AsSpan(2))
            : [];
        return new ContractArtifact(name, abi, bytecode);
    }
}
