using System.Buffers.Binary;
using Prova.Core.Crypto;
using Prova.Proofs.Field;

namespace Prova.Proofs.Transcript;

/// <summary>
/// Bounds-checked reader matching <see cref="ProofWriter"/>. Every malformed input raises
/// <see cref="ProofFormatException"/>; counts are checked against the bytes left before allocating.
/// </summary>
public ref struct ProofReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _offset;

    public ProofReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _offset = 0;
    }

    public readonly int Remaining => _data.Length - _offset;

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "u32"));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "u64"));

    public byte ReadByte() => Take(1, "byte")[0];

    public ReadOnlySpan<byte> ReadBytes(int count) => Take(count, "bytes");

    /// <summary>A u32 count that must not exceed <paramref name="max"/> and must fit in the remaining bytes at <paramref name="elementSize"/> each.</summary>
    public int ReadCount(int max, int elementSize, string what)
    {
        uint n = ReadUInt32();
        if (n > (uint)max || (long)n * elementSize > Remaining)
        {
            throw new ProofFormatException($"proof {what} count {n} is out of range (max {max}, {Remaining} bytes left)");
        }
        return (int)n;
    }

    public Fp ReadFp()
    {
        if (!Fp.TryRead(Take(Fp.ByteLength, "field element"), out var v))
        {
            throw new ProofFormatException($"non-canonical field element at byte {_offset - Fp.ByteLength}");
        }
        return v;
    }

    public Fp2 ReadFp2()
    {
        if (!Fp2.TryRead(Take(Fp2.ByteLength, "extension element"), out var v))
        {
            throw new ProofFormatException($"non-canonical extension-field element at byte {_offset - Fp2.ByteLength}");
        }
        return v;
    }

    public Hash256 ReadDigest() => new(Take(Hash256.Length, "digest"));

    public Fp[] ReadFps(int count)
    {
        CheckRemaining((long)count * Fp.ByteLength, "field elements");
        var a = new Fp[count];
        for (int i = 0; i < count; i++)
        {
            a[i] = ReadFp();
        }
        return a;
    }

    public Fp2[] ReadFp2s(int count)
    {
        CheckRemaining((long)count * Fp2.ByteLength, "extension elements");
        var a = new Fp2[count];
        for (int i = 0; i < count; i++)
        {
            a[i] = ReadFp2();
        }
        return a;
    }

    /// <summary>Throws unless every byte has been consumed.</summary>
    public readonly void EnsureEnd()
    {
        if (_offset != _data.Length)
        {
            throw new ProofFormatException($"{_data.Length - _offset} trailing bytes after the proof");
        }
    }

    private readonly void CheckRemaining(long bytes, string what)
    {
        if (bytes < 0 || bytes > Remaining)
        {
            throw new ProofFormatException($"proof truncated: {what} need {bytes} bytes, {Remaining} left");
        }
    }

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        CheckRemaining(count, what);
        var s = _data.Slice(_offset, count);
        _offset += count;
        return s;
    }
}
