using System.Buffers.Binary;
using System.Text;
using Prova.Core;

namespace Prova.Node.Settlement;

/// <summary>Bytes from the chain (an InferenceRequests input, a challenge's inputs) are not a valid canonical tensor set.</summary>
public sealed class CanonicalTensorException : ProvaException
{
    public CanonicalTensorException(string message) : base(message) { }

    public CanonicalTensorException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Reads the canonical encoding of named tensors (docs/formats.md, what <see cref="TensorEncoding"/> writes
/// and what receipts hash): contracts carry inputs and outputs in this form. Strict: names sorted and unique,
/// no trailing bytes, so a decoded set re-encodes to exactly the same bytes (and the same hash).
/// </summary>
public static class CanonicalTensors
{
    public const int MaxTensors = 256;
    public const int MaxRank = 8;
    public const int MaxNameBytes = 256;

    public static byte[] Encode(IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var stream = new MemoryStream();
        TensorEncoding.Write(stream, tensors);
        return stream.ToArray();
    }

    public static Dictionary<string, Tensor> Decode(ReadOnlySpan<byte> bytes)
    {
        int pos = 0;
        uint count = U32(bytes, ref pos, "tensor count");
        if (count > MaxTensors)
        {
            throw new CanonicalTensorException($"{count} tensors; at most {MaxTensors}");
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        string? previous = null;
        for (uint i = 0; i < count; i++)
        {
            uint nameLength = U32(bytes, ref pos, "name length");
            if (nameLength > MaxNameBytes || pos + nameLength > bytes.Length)
            {
                throw new CanonicalTensorException($"tensor {i}: name of {nameLength} bytes does not fit (at most {MaxNameBytes})");
            }
            string name;
            try
            {
                name = new UTF8Encoding(false, true).GetString(bytes.Slice(pos, (int)nameLength));
            }
            catch (DecoderFallbackException ex)
            {
                throw new CanonicalTensorException($"tensor {i}: name is not UTF-8", ex);
            }
            pos += (int)nameLength;
            if (previous is not null && string.CompareOrdinal(previous, name) >= 0)
            {
                throw new CanonicalTensorException($"tensor '{name}': names must be unique and sorted (ordinal)");
            }
            previous = name;
            if (pos >= bytes.Length)
            {
                throw new CanonicalTensorException($"tensor '{name}': truncated before its type");
            }
            var type = (DataType)bytes[pos++];
            if (!DataTypes.IsSupported(type))
            {
                throw new CanonicalTensorException($"tensor '{name}': unsupported data type code {(int)type}");
            }
            uint rank = U32(bytes, ref pos, $"tensor '{name}' rank");
            if (rank > MaxRank)
            {
                throw new CanonicalTensorException($"tensor '{name}': rank {rank}; at most {MaxRank}");
            }
            var shape = new int[rank];
            long elements = 1;
            for (int d = 0; d < rank; d++)
            {
                if (pos + 8 > bytes.Length)
                {
                    throw new CanonicalTensorException($"tensor '{name}': truncated in its shape");
                }
                ulong dim = BinaryPrimitives.ReadUInt64LittleEndian(bytes[pos..]);
                pos += 8;
                if (dim > int.MaxValue)
                {
                    throw new CanonicalTensorException($"tensor '{name}': dimension {dim} is too large");
                }
                shape[d] = (int)dim;
                elements *= (long)dim;
                if (elements > bytes.Length)
                {
                    throw new CanonicalTensorException($"tensor '{name}': shape needs more data than the {bytes.Length} bytes given");
                }
            }
            long size = elements * DataTypes.SizeOf(type);
            if (pos + size > bytes.Length)
            {
                throw new CanonicalTensorException($"tensor '{name}': needs {size} data bytes, {bytes.Length - pos} remain");
            }
            var data = bytes.Slice(pos, (int)size);
            if (type == DataType.Bool && data.ContainsAnyExcept((byte)0, (byte)1))
            {
                throw new CanonicalTensorException($"tensor '{name}': bool elements must be 0 or 1");
            }
            try
            {
                result[name] = Tensor.FromBytes(type, shape, data);
            }
            catch (ProvaException ex)
            {
                throw new CanonicalTensorException($"tensor '{name}': {ex.Message}", ex);
            }
            pos += (int)size;
        }
        if (pos != bytes.Length)
        {
            throw new CanonicalTensorException($"{bytes.Length - pos} bytes after the last tensor");
        }
        return result;
    }

    private static uint U32(ReadOnlySpan<byte> bytes, ref int pos, string what)
    {
        if (pos + 4 > bytes.Length)
        {
            throw new CanonicalTensorException($"truncated at the {what} (offset {pos})");
        }
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(bytes[pos..]);
        pos += 4;
        return value;
    }
}
