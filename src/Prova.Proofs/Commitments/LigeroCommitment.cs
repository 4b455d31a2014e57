using System.Buffers.Binary;
using Prova.Core.Crypto;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Commitments;

/// <summary>
/// What the verifier holds: the Merkle root of the encoded columns and the shape (every committed
/// polynomial has NumVars variables). Encoding: root (32) ‖ u32 LE NumVars ‖ u32 LE PolynomialCount.
/// </summary>
public sealed record LigeroCommitment(Hash256 Root, int NumVars, int PolynomialCount)
{
    public const int ByteLength = Hash256.Length + 8;

    public byte[] ToBytes()
    {
        var b = new byte[ByteLength];
        Root.WriteTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(32), (uint)NumVars);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(36), (uint)PolynomialCount);
        return b;
    }

    public static LigeroCommitment FromBytes(ReadOnlySpan<byte> bytes)
    {
        var r = new ProofReader(bytes);
        var root = r.ReadDigest();
        uint n = r.ReadUInt32();
        uint count = r.ReadUInt32();
        r.EnsureEnd();
        if (n > 30 || count is 0 or > 1 << 16)
        {
            throw new ProofFormatException($"commitment shape out of range: {n} variables, {count} polynomials");
        }
        return new LigeroCommitment(root, (int)n, (int)count);
    }

    /// <summary>Absorbs the commitment into a transcript (label "pcs/commitment").</summary>
    public void AbsorbInto(ProofTranscript transcript) => transcript.AbsorbBytes("pcs/commitment", ToBytes());
}
