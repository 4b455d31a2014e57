using Prova.Core.Crypto;
using Prova.Proofs.Field;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Commitments;

/// <summary>
/// An opening of a <see cref="LigeroCommitment"/> at one point per polynomial.
/// Encoding (little-endian): u32 k ‖ Combined (k × Fp2) ‖ u32 count ‖ count × (k × Fp2) ‖
/// u32 columns ‖ u32 rows ‖ columns × rows × Fp ‖ u32 siblings ‖ siblings × 32 bytes.
/// </summary>
public sealed class LigeroOpening
{
    public LigeroOpening(Fp2[] combined, Fp2[][] evaluationRows, Fp[][] columns, Hash256[] siblings)
    {
        Combined = combined;
        EvaluationRows = evaluationRows;
        Columns = columns;
        Siblings = siblings;
    }

    /// <summary>u = Σ_i γ_i · row_i over all committed rows (proximity test).</summary>
    public Fp2[] Combined { get; }

    /// <summary>Per polynomial: v = Σ_i eq(z_hi, i) · row_i (evaluation combination).</summary>
    public Fp2[][] EvaluationRows { get; }

    /// <summary>The opened encoded columns, in increasing column order.</summary>
    public Fp[][] Columns { get; }

    /// <summary>Merkle multi-opening siblings for the opened columns.</summary>
    public Hash256[] Siblings { get; }

    public byte[] ToBytes()
    {
        var w = new ProofWriter();
        WriteTo(w);
        return w.ToArray();
    }

    public void WriteTo(ProofWriter w)
    {
        w.WriteUInt32((uint)Combined.Length);
        w.WriteFp2s(Combined);
        w.WriteUInt32((uint)EvaluationRows.Length);
        foreach (var v in EvaluationRows)
        {
            w.WriteFp2s(v);
        }
        w.WriteUInt32((uint)Columns.Length);
        w.WriteUInt32((uint)(Columns.Length == 0 ? 0 : Columns[0].Length));
        foreach (var c in Columns)
        {
            w.WriteFps(c);
        }
        w.WriteUInt32((uint)Siblings.Length);
        foreach (var s in Siblings)
        {
            w.WriteDigest(s);
        }
    }

    public static LigeroOpening FromBytes(ReadOnlySpan<byte> bytes)
    {
        var r = new ProofReader(bytes);
        var opening = ReadFrom(ref r);
        r.EnsureEnd();
        return opening;
    }

    /// <summary>Reads one opening; sizes are bounded by the bytes present, never by trusting the counts.</summary>
    public static LigeroOpening ReadFrom(ref ProofReader r)
    {
        int k = r.ReadCount(1 << 30, Fp2.ByteLength, "row length");
        var u = r.ReadFp2s(k);
        int count = r.ReadCount(1 << 16, Math.Max(1, k) * Fp2.ByteLength, "polynomial");
        var v = new Fp2[count][];
        for (int p = 0; p < count; p++)
        {
            v[p] = r.ReadFp2s(k);
        }
        int columns = r.ReadCount(1 << 20, 1, "column");
        uint rowsRaw = r.ReadUInt32();
        if ((long)columns * rowsRaw * Fp.ByteLength > r.Remaining || (columns > 0 && rowsRaw == 0))
        {
            throw new ProofFormatException($"opening claims {columns} columns of {rowsRaw} rows, more than the {r.Remaining} bytes left");
        }
        var cols = new Fp[columns][];
        for (int c = 0; c < columns; c++)
        {
            cols[c] = r.ReadFps((int)rowsRaw);
        }
        int siblings = r.ReadCount(1 << 24, Hash256.Length, "Merkle sibling");
        var sib = new Hash256[siblings];
        for (int i = 0; i < siblings; i++)
        {
            sib[i] = r.ReadDigest();
        }
        return new LigeroOpening(u, v, cols, sib);
    }

    public int ByteSize => ToBytes().Length;
}
