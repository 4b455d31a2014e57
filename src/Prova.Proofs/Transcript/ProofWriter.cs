using System.Buffers.Binary;
using Prova.Core.Crypto;
using Prova.Proofs.Field;

namespace Prova.Proofs.Transcript;

/// <summary>Little-endian writer for proof encodings: u32 counts, canonical field elements, 32-byte digests.</summary>
public sealed class ProofWriter
{
    private byte[] _buffer = new byte[256];
    private int _length;

    public int Length => _length;

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Grow(4), value);

    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Grow(8), value);

    public void WriteByte(byte value) => Grow(1)[0] = value;

    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Grow(bytes.Length));

    public void WriteFp(Fp value) => value.WriteTo(Grow(Fp.ByteLength));

    public void WriteFp2(Fp2 value) => value.WriteTo(Grow(Fp2.ByteLength));

    public void WriteDigest(Hash256 digest) => digest.WriteTo(Grow(Hash256.Length));

    public void WriteFps(ReadOnlySpan<Fp> values)
    {
        var dst = Grow(values.Length * Fp.ByteLength);
        for (int i = 0; i < values.Length; i++)
        {
            values[i].WriteTo(dst[(i * Fp.ByteLength)..]);
        }
    }

    public void WriteFp2s(ReadOnlySpan<Fp2> values)
    {
        var dst = Grow(values.Length * Fp2.ByteLength);
        for (int i = 0; i < values.Length; i++)
        {
            values[i].WriteTo(dst[(i * Fp2.ByteLength)..]);
        }
    }

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    private Span<byte> Grow(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
