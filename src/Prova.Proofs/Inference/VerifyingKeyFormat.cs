using System.Text;
using Prova.Core;
using Prova.Core.Content;
using Prova.Onnx;
using Prova.Proofs.Commitments;
using Prova.Proofs.Transcript;
using Prova.Runtime.Ops.Quant;

namespace Prova.Proofs.Inference;

/// <summary>
/// The PRVK v2 verifying-key encoding (docs/proofs.md), little-endian, strictly parsed:
/// "PRVK" · u16 version = 3 · u16 flags = 0 · CID text · inputs (name, i32 type,
/// i32 rank or −1 when undeclared, rank × i32 dims with −1 for a symbolic one) · output names · light-graph
/// input names · light graph (ONNX bytes, empty when there is none) · u32 layer count · per layer:
/// name, input, output, kind, output type, K, N, x/y zero points, lo, hi, C, kh, kw, strides,
/// dilations, pads, auto_pad, N × (M0, shift), N × bias, the 40-byte weight commitment.
/// Strings are u32 length + UTF-8; integers i32. The key digest is SHA-256 of these bytes.
/// </summary>
internal static class VerifyingKeyFormat
{
    public const ushort Version = 3;

    public const int MaxBytes = 64 << 20;

    public static ReadOnlySpan<byte> Magic => "PRVK"u8;

    internal sealed record Parts(Cid Cid, InputDeclaration[] Inputs, string[] Outputs, string[] LightInputs, byte[] LightGraph, QuantLayer[] Layers, LigeroCommitment[] Commitments);

    public static byte[] Write(Parts k)
    {
        var w = new ProofWriter();
        w.WriteBytes(Magic);
        w.WriteUInt32(Version); // u16 version + u16 flags (0)
        Str(w, k.Cid.ToString());
        w.WriteUInt32((uint)k.Inputs.Length);
        foreach (var input in k.Inputs)
        {
            Str(w, input.Name);
            w.WriteUInt32((uint)input.Type);
            w.WriteUInt32(input.Dims is null ? uint.MaxValue : (uint)input.Dims.Length);
            foreach (var d in input.Dims ?? [])
            {
                w.WriteUInt32((uint)d);
            }
        }
        Strs(w, k.Outputs);
        Strs(w, k.LightInputs);
        w.WriteUInt32((uint)k.LightGraph.Length);
        w.WriteBytes(k.LightGraph);
        w.WriteUInt32((uint)k.Layers.Length);
        for (int i = 0; i < k.Layers.Length; i++)
        {
            var l = k.Layers[i];
            Str(w, l.Name);
            Str(w, l.Input);
            Str(w, l.Output);
            foreach (var v in new[] { (int)l.Kind, (int)l.OutputType, l.K, l.N, l.XZero, l.YZero, l.Lo, l.Hi, l.C, l.KH, l.KW, l.SH, l.SW, l.DH, l.DW, l.Pads[0], l.Pads[1], l.Pads[2], l.Pads[3] })
            {
                w.WriteUInt32((uint)v);
            }
            Str(w, l.AutoPad);
            foreach (var rq in l.Requant)
            {
                w.WriteUInt32((uint)rq.Multiplier);
                w.WriteUInt32((uint)rq.Shift);
            }
            foreach (var b in l.Bias)
            {
                w.WriteUInt32((uint)b);
            }
            w.WriteBytes(k.Commitments[i].ToBytes());
        }
        return w.ToArray();
    }

    public static Parts Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxBytes)
        {
            throw Bad($"the verifying key has {bytes.Length} bytes; at most {MaxBytes} are accepted");
        }
        try
        {
            var r = new ProofReader(bytes);
            if (!r.ReadBytes(4).SequenceEqual(Magic))
            {
                throw Bad("not a Prova verifying key (magic is not PRVK)");
            }
            uint version = r.ReadUInt32();
            if (version != Version)
            {
                throw Bad($"verifying-key version/flags {version:x8} not supported (expected version {Version}, flags 0)");
            }
            var cidText = ReadStr(ref r);
            if (!Cid.TryParse(cidText, out var cid))
            {
                throw Bad("the verifying key's model CID is not a CID");
            }
            var inputs = new InputDeclaration[r.ReadCount(1 << 16, 12, "inputs")];
            for (int i = 0; i < inputs.Length; i++)
            {
                string name = ReadStr(ref r);
                var type = (DataType)r.ReadUInt32();
                if (!DataTypes.IsSupported(type))
                {
                    throw Bad($"input '{name}' has an unknown element type {(int)type}");
                }
                int rank = (int)r.ReadUInt32();
                if (rank is < -1 or > 64)
                {
                    throw Bad($"input '{name}' has rank {rank}");
                }
                int[]? dims = null;
                if (rank >= 0)
                {
                    dims = new int[rank];
                    for (int d = 0; d < rank; d++)
                    {
                        dims[d] = (int)r.ReadUInt32();
                        if (dims[d] < -1)
                        {
                            throw Bad($"input '{name}' has dimension {dims[d]}");
                        }
                    }
                }
                inputs[i] = new InputDeclaration(name, type, dims);
            }
            var outputs = ReadStrs(ref r);
            var lightInputs = ReadStrs(ref r);
            int lightLength = r.ReadCount(MaxBytes, 1, "light graph");
            var light = r.ReadBytes(lightLength).ToArray();
            int count = r.ReadCount(ProofFormat.MaxLayers, 8, "layers");
            if (count < 1)
            {
                throw Bad("the verifying key has no proven layer");
            }
            var layers = new QuantLayer[count];
            var commitments = new LigeroCommitment[count];
            for (int i = 0; i < count; i++)
            {
                string name = ReadStr(ref r);
                string input = ReadStr(ref r);
                string output = ReadStr(ref r);
                var v = new int[19];
                for (int j = 0; j < v.Length; j++)
                {
                    v[j] = (int)r.ReadUInt32();
                }
                string autoPad = ReadStr(ref r);
                var (kind, type, kk, n) = ((LayerKind)v[0], (DataType)v[1], v[2], v[3]);
                if (kind is not (LayerKind.MatMul or LayerKind.Conv) || type is not (DataType.Int8 or DataType.UInt8) || kk is < 1 or > 1 << 24 || n is < 1 or > 1 << 24
                    || autoPad is not ("NOTSET" or "VALID") || v[6] > v[7] || (kind == LayerKind.Conv && (v[8] < 1 || (long)v[8] * v[9] * v[10] != kk || v[9] < 1 || v[10] < 1 || v[11..15].Any(s => s is < 1 or > 1024) || v[15..19].Any(p => p is < 0 or > 1024))))
                {
                    throw Bad($"layer {i} ('{name}') has parameters out of range");
                }
                if ((long)n * 12 + LigeroCommitment.ByteLength > r.Remaining)
                {
                    throw Bad($"layer {i} ('{name}'): {n} channels do not fit the key");
                }
                var rq = new Requant[n];
                for (int j = 0; j < n; j++)
                {
                    rq[j] = new Requant((int)r.ReadUInt32(), (int)r.ReadUInt32());
                    if (rq[j].Multiplier < 0 || rq[j].Shift is < -64 or > 64)
                    {
                        throw Bad($"layer {i} ('{name}'): requantisation constants out of range");
                    }
                }
                var bias = new int[n];
                for (int j = 0; j < n; j++)
                {
                    bias[j] = (int)r.ReadUInt32();
                }
                commitments[i] = LigeroCommitment.FromBytes(r.ReadBytes(LigeroCommitment.ByteLength));
                if (commitments[i].PolynomialCount != 1 || commitments[i].NumVars != Eq.Vars(kk) + Eq.Vars(n))
                {
                    throw Bad($"layer {i} ('{name}'): the weight commitment does not have the layer's shape");
                }
                layers[i] = new QuantLayer
                {
                    Name = name,
                    Kind = kind,
                    Input = input,
                    Output = output,
                    OutputType = type,
                    K = kk,
                    N = n,
                    Weights = [],
                    Bias = bias,
                    XZero = v[4],
                    YZero = v[5],
                    Lo = v[6],
                    Hi = v[7],
                    Requant = rq,
                    C = v[8],
                    KH = v[9],
                    KW = v[10],
                    SH = v[11],
                    SW = v[12],
                    DH = v[13],
                    DW = v[14],
                    Pads = v[15..19],
                    AutoPad = autoPad,
                };
            }
            r.EnsureEnd();
            return new Parts(cid, inputs, outputs, lightInputs, light, layers, commitments);
        }
        catch (ProofFormatException ex)
        {
            throw Bad(ex.Message);
        }
    }

    private static void Str(ProofWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.WriteUInt32((uint)b.Length);
        w.WriteBytes(b);
    }

    private static void Strs(ProofWriter w, string[] s)
    {
        w.WriteUInt32((uint)s.Length);
        foreach (var x in s)
        {
            Str(w, x);
        }
    }

    private static string ReadStr(ref ProofReader r)
    {
        int n = r.ReadCount(1 << 16, 1, "string");
        try
        {
            return new UTF8Encoding(false, true).GetString(r.ReadBytes(n));
        }
        catch (ArgumentException)
        {
            throw Bad("a name in the verifying key is not UTF-8");
        }
    }

    private static string[] ReadStrs(ref ProofReader r)
    {
        int n = r.ReadCount(1 << 16, 4, "names");
        var s = new string[n];
        for (int i = 0; i < n; i++)
        {
            s[i] = ReadStr(ref r);
        }
        return s;
    }

    private static ProofException Bad(string message) => new(ProofErrorCode.Malformed, "verifying key: " + message);
}
