using System.Buffers.Binary;
using Prova.Proofs.Field;

namespace Prova.Proofs.Inference;

/// <summary>
/// The PRVP v1 binary proof format (docs/proofs.md), little-endian:
/// "PRVP" · u16 version = 1 · u16 flags = 0 · 32-byte key digest · u32 layer count, then per layer:
/// u32 rows · u32 columns · u8 output rank · rank × u32 output dims · rows·columns × i32 accumulators ·
/// u8 rounds · rounds × 3 × Fp2 · Fp2 input claim · Fp2 weight claim · u32 opening length · opening bytes.
/// Parsing is strict: canonical field elements, every count bounded before allocation, no trailing bytes.
/// </summary>
public static class ProofFormat
{
    public const ushort Version = 2;

    /// <summary>Largest proof accepted (bytes).</summary>
    public const int MaxBytes = 256 << 20;

    public const int MaxLayers = 4096;

    public const int MaxRounds = 40;

    public const int MaxRank = 8;

    public static ReadOnlySpan<byte> Magic => "PRVP"u8;

    public static byte[] Write(InferenceProof proof)
    {
        using var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(Magic);
        w.Write(Version);
        w.Write((ushort)0);
        w.Write(proof.KeyDigest);
        w.Write(proof.Layers.Count);
        Span<byte> buf = stackalloc byte[Fp2.ByteLength];
        foreach (var l in proof.Layers)
        {
            w.Write(l.Rows);
            w.Write(l.Columns);
            w.Write((byte)l.OutputShape.Length);
            foreach (var d in l.OutputShape)
            {
                w.Write(d);
            }
            foreach (var a in l.Accumulators)
            {
                w.Write(a);
            }
            w.Write((byte)(l.Rounds.Length / 3));
            foreach (var e in l.Rounds)
            {
                e.WriteTo(buf);
                w.Write(buf);
            }
            l.InputClaim.WriteTo(buf);
            w.Write(buf);
            l.WeightClaim.WriteTo(buf);
            w.Write(buf);
            w.Write(l.Opening.Length);
            w.Write(l.Opening);
        }
        w.Flush();
        return ms.ToArray();
    }

    /// <summary>Parses a proof; throws <see cref="ProofException"/> (Malformed) for anything that is not a well-formed v1 proof.</summary>
    public static InferenceProof Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxBytes)
        {
            throw Bad($"the proof has {bytes.Length} bytes; at most {MaxBytes} are accepted");
        }
        var r = new Reader(bytes);
        if (!r.Take(4).SequenceEqual(Magic))
        {
            throw Bad("not a Prova proof (magic is not PRVP)");
        }
        ushort version = r.U16();
        if (version != Version)
        {
            throw Bad($"proof format version {version} is not supported (expected {Version})");
        }
        if (r.U16() != 0)
        {
            throw Bad("unknown flags");
        }
        var digest = r.Take(32).ToArray();
        int count = r.Count("layer count", MaxLayers);
        var layers = new List<LayerProof>(count);
        for (int i = 0; i < count; i++)
        {
            int rows = r.Count("rows", 1 << 24);
            int columns = r.Count("columns", 1 << 24);
            long cells = (long)rows * columns;
            if (rows < 1 || columns < 1 || cells * 4 > r.Remaining)
            {
                throw Bad($"layer {i}: {rows}×{columns} accumulators do not fit the proof");
            }
            int rank = r.Byte();
            if (rank < 1 || rank > MaxRank)
            {
                throw Bad($"layer {i}: output rank {rank}");
            }
            var shape = new int[rank];
            for (int d = 0; d < rank; d++)
            {
                shape[d] = r.Count("dimension", 1 << 24);
            }
            var acc = new int[cells];
            for (long c = 0; c < cells; c++)
            {
                acc[c] = r.I32();
            }
            int rounds = r.Byte();
            if (rounds > MaxRounds)
            {
                throw Bad($"layer {i}: {rounds} sumcheck rounds");
            }
            var evals = new Fp2[3 * rounds];
            for (int e = 0; e < evals.Length; e++)
            {
                evals[e] = r.Fp2();
            }
            var a = r.Fp2();
            var wc = r.Fp2();
            int openingLength = r.Count("opening length", r.Remaining);
            var opening = r.Take(openingLength).ToArray();
            layers.Add(new LayerProof
            {
                Rows = rows,
                Columns = columns,
                OutputShape = shape,
                Accumulators = acc,
                Rounds = evals,
                InputClaim = a,
                WeightClaim = wc,
                Opening = opening,
            });
        }
        if (r.Remaining != 0)
        {
            throw Bad($"{r.Remaining} trailing bytes after the proof");
        }
        return new InferenceProof { KeyDigest = digest, Layers = layers };
    }

    private static ProofException Bad(string message) => new(ProofErrorCode.Malformed, message);

    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _pos;

        public readonly int Remaining => _bytes.Length - _pos;

        public ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > Remaining)
            {
                throw Bad($"the proof ends early (needed {n} more bytes at offset {_pos})");
            }
            var s = _bytes.Slice(_pos, n);
            _pos += n;
            return s;
        }

        public byte Byte() => Take(1)[0];

        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

        public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public int Count(string what, int max)
        {
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
            if (v > (uint)max)
            {
                throw Bad($"{what} {v} exceeds {max}");
            }
            return (int)v;
        }

        public Fp2 Fp2()
        {
            if (!Field.Fp2.TryRead(Take(Field.Fp2.ByteLength), out var v))
            {
                throw Bad($"a field element at offset {_pos - Field.Fp2.ByteLength} is not canonical");
            }
            return v;
        }
    }
}
