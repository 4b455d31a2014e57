namespace Prova.Onnx;

/// <summary>Limits that keep a hostile model from exhausting memory or time while loading.</summary>
public sealed class LoadOptions
{
    public static LoadOptions Default { get; } = new();

    /// <summary>Largest model file (protobuf bytes), default 2 GiB - 1 (protobuf's own limit).</summary>
    public long MaxModelBytes { get; init; } = int.MaxValue;

    /// <summary>Largest external-data total, default 16 GiB.</summary>
    public long MaxExternalDataBytes { get; init; } = 16L << 30;

    /// <summary>Largest element count of any one tensor (initializer or declared).</summary>
    public long MaxTensorElements { get; init; } = int.MaxValue;

    public int MaxNodes { get; init; } = 1_000_000;
}

/// <summary>Reads ONNX files into <see cref="OnnxModel"/> and checks their structure.</summary>
public static partial class OnnxLoader
{
    /// <summary>Loads a model file; external data is resolved next to it.</summary>
    public static OnnxModel Load(string path, LoadOptions? options = null) => throw new NotImplementedException();

    /// <summary>Loads model bytes; external data (if any) is resolved relative to <paramref name="baseDirectory"/>.</summary>
    public static OnnxModel Load(ReadOnlySpan<byte> bytes, string? baseDirectory = null, LoadOptions? options = null) => throw new NotImplementedException();
}
