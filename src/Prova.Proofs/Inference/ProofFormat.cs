using System.Buffers.Binary;
using Prova.Core.Crypto;
using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Inference;

/// <summary>
/// The PRVP v4 binary proof format (docs/proofs.md), little-endian, in transcript order:
/// "PRVP" · u16 version = 4 · u16 flags = 0 · 32-byte key digest · 32-byte request id ·
/// 20-byte node address · u32 layer count;
/// per layer: u32 rows · u32 columns · u8 output rank · rank × u32 dims · rows·columns output bytes;
/// limb commitment (40) · 256 × u32 multiplicities · u8 σ · Fp2 P · Fp2 Q · per level k &lt; σ:
/// k × 4 × Fp2 rounds · 4 × Fp2 values; per layer: 8 × Fp2 limb evaluations · u8 rounds ·
/// rounds × 3 × Fp2 · Fp2 input claim · Fp2 weight claim · u32 length · weight opening;
/// u8 σ · σ × 3 × Fp2 · Fp2 L~(ρ') · u32 length · limb opening.
/// Parsing is strict: canonical field elements, every count bounded before allocation, no trailing bytes.
/// </summary>
public static class ProofFormat
{
    public const ushort Version = 4;

    /// <summary>Largest proof accepted (bytes).</summary>
    public const int MaxBytes = 256 << 20;

    public const int MaxLayers = 4096;

    public const int MaxRounds = 40;

    public const int MaxRank = 8;

    public static ReadOnlySpan<byte> Magic => "PRVP"u8;

    public static byte[] Write(InferenceProof proof)
    {
        var w = new ProofWriter();
        w.WriteBytes(Magic);
        w.WriteBytes([(byte)Version, Version >> 8, 0, 0]);
        w.WriteBytes(proof.KeyDigest);
        w.WriteBytes(proof.Binding.RequestId.ToArray());
        w.WriteBytes(proof.Binding.Node.ToArray());
        w.WriteUInt32((uint)proof.Layers.Count);
        foreach (var l in proof.Layers)
        {
            w.WriteUInt32((uint)l.Rows);
            w.WriteUInt32((uint)l.Columns);
            w.WriteByte((byte)l.OutputShape.Length);
            foreach (var d in l.OutputShape)
            {
                w.WriteUInt32((uint)d);
            }
            w.WriteBytes(l.Outputs);
        }
        var r = proof.Range;
        w.WriteBytes(r.Limbs.ToBytes());
        foreach (var m in r.Multiplicities)
        {
            w.WriteUInt32(m);
        }
        w.WriteByte((byte)r.LogUpRounds.Length);
        w.WriteFp2s(r.Root);
        for (int k = 0; k < r.LogUpRounds.Length; k++)
        {
            foreach (var round in r.LogUpRounds[k])
            {
                w.WriteFp2s(round);
            }
            w.WriteFp2s(r.LogUpValues[k]);
        }
        foreach (var l in proof.Layers)
        {
            w.WriteFp2s(l.LimbEvaluations);
            w.WriteByte((byte)(l.Rounds.Length / 3));
            w.WriteFp2s(l.Rounds);
            w.WriteFp2(l.InputClaim);
            w.WriteFp2(l.WeightClaim);
            w.WriteUInt32((uint)l.Opening.Length);
            w.WriteBytes(l.Opening);
        }
        WriteRounds(w, r.BatchRounds);
        w.WriteFp2(r.LimbAtBatch);
        w.WriteUInt32((uint)r.LimbOpening.Length);
        w.WriteBytes(r.LimbOpening);
        return w.ToArray();
    }

    private static void WriteRounds(ProofWriter w, Fp2[][] rounds)
    {
        w.WriteByte((byte)rounds.Length);
        foreach (var round in rounds)
        {
            w.WriteFp2s(round);
        }
    }

    /// <summary>Parses a proof; throws <see cref="ProofException"/> (Malformed) for anything that is not a well-formed v4 proof.</summary>
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
            throw Bad($"proof format version {version} not supported (expected {Version})");
        }
        if (r.U16() != 0)
        {
            throw Bad("unknown flags");
        }
        var digest = r.Take(32).ToArray();
        var binding = new ProofBinding(new Hash256(r.Take(Hash256.Length)), new Address(r.Take(Address.Length)));
        int count = r.Count("layer count", MaxLayers);
        if (count < 1)
        {
            throw Bad("a proof covers at least one layer");
        }
        var rows = new int[count];
        var columns = new int[count];
        var shapes = new int[count][];
        var outputs = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            rows[i] = r.Count("rows", 1 << 24);
            columns[i] = r.Count("columns", 1 << 24);
            int rank = r.Byte();
            if (rank < 1 || rank > MaxRank)
            {
                throw Bad($"layer {i}: output rank {rank}");
            }
            shapes[i] = new int[rank];
            for (int d = 0; d < rank; d++)
            {
                shapes[i][d] = r.Count("dimension", 1 << 24);
            }
            long cells = (long)rows[i] * columns[i];
            if (rows[i] < 1 || columns[i] < 1 || cells > r.Remaining)
            {
                throw Bad($"layer {i}: {rows[i]}×{columns[i]} outputs do not fit the proof");
            }
            outputs[i] = r.Take((int)cells).ToArray();
        }
        var limbs = r.Commitment();
        var multiplicities = new uint[LimbLayout.TableSize];
        for (int t = 0; t < multiplicities.Length; t++)
        {
            multiplicities[t] = r.U32();
        }
        int levels = r.Byte();
        if (levels < 1 || levels > LimbLayout.MaxVars)
        {
            throw Bad($"the LogUp fraction tree has {levels} levels");
        }
        Fp2[] root = [r.Fp2(), r.Fp2()];
        var logUp = new Fp2[levels][][];
        var logUpValues = new Fp2[levels][];
        for (int k = 0; k < levels; k++)
        {
            logUp[k] = r.Rounds(k, 4);
            logUpValues[k] = r.Rounds(1, 4)[0];
        }
        var layers = new List<LayerProof>(count);
        for (int i = 0; i < count; i++)
        {
            var e = new Fp2[LimbLayout.Limbs];
            for (int k = 0; k < e.Length; k++)
            {
                e[k] = r.Fp2();
            }
            int rounds = r.Byte();
            if (rounds > MaxRounds)
            {
                throw Bad($"layer {i}: {rounds} sumcheck rounds");
            }
            var evals = new Fp2[3 * rounds];
            for (int k = 0; k < evals.Length; k++)
            {
                evals[k] = r.Fp2();
            }
            var a = r.Fp2();
            var wc = r.Fp2();
            layers.Add(new LayerProof
            {
                Rows = rows[i],
                Columns = columns[i],
                Outputs = outputs[i],
                OutputShape = shapes[i],
                LimbEvaluations = e,
                Rounds = evals,
                InputClaim = a,
                WeightClaim = wc,
                Opening = r.Blob("weight opening"),
            });
        }
        int batchRounds = r.Byte();
        if (batchRounds != levels)
        {
            throw Bad($"the batching sumcheck has {batchRounds} rounds; the limb vector has {levels} variables");
        }
        var batch = r.Rounds(batchRounds, 3);
        var limbAtBatch = r.Fp2();
        var limbOpening = r.Blob("limb opening");
        if (r.Remaining != 0)
        {
            throw Bad($"{r.Remaining} trailing bytes after the proof");
        }
        var range = new RangeProof
        {
            Limbs = limbs,
            Multiplicities = multiplicities,
            Root = root,
            LogUpRounds = logUp,
            LogUpValues = logUpValues,
            BatchRounds = batch,
            LimbAtBatch = limbAtBatch,
            LimbOpening = limbOpening,
        };
        return new InferenceProof { KeyDigest = digest, Binding = binding, Layers = layers, Range = range };
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

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public byte[] Blob(string what) => Take(Count(what + " length", Remaining)).ToArray();

        public LigeroCommitment Commitment()
        {
            try
            {
                return LigeroCommitment.FromBytes(Take(LigeroCommitment.ByteLength));
            }
            catch (ProofFormatException ex)
            {
                throw Bad(ex.Message);
            }
        }

        /// <summary>rounds × evaluations field elements (the count is known from σ, bounded by the bytes left).</summary>
        public Fp2[][] Rounds(int rounds, int evaluations)
        {
            if ((long)rounds * evaluations * Field.Fp2.ByteLength > Remaining)
            {
                throw Bad($"the proof ends early (a sumcheck of {rounds} rounds at offset {_pos})");
            }
            var result = new Fp2[rounds][];
            for (int i = 0; i < rounds; i++)
            {
                result[i] = new Fp2[evaluations];
                for (int e = 0; e < evaluations; e++)
                {
                    result[i][e] = Fp2();
                }
            }
            return result;
        }

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
