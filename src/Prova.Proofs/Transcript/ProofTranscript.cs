// Fiat–Shamir transcript over SHA-256. Every prover message is absorbed with a domain-separation
// label; challenges are derived from the hash of everything absorbed so far and are always drawn
// from Fp2 (uniformly: 64-bit limbs are rejection-sampled below p). Framing of one absorb:
//   kind (1 byte) ‖ u32 LE label length ‖ label (UTF-8) ‖ u64 LE payload length ‖ payload
// A challenge absorbs its own label (kind 0xC0), finalises the running hash into a 32-byte seed,
// restarts the running hash with that seed (so later challenges depend on all earlier messages),
// and expands the seed with SHA-256(seed ‖ u32 LE counter) blocks of four 64-bit limbs.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Prova.Core.Crypto;
using Prova.Proofs.Field;

namespace Prova.Proofs.Transcript;

public sealed class ProofTranscript : IDisposable
{
    private const byte KindBytes = 0x01;
    private const byte KindFp = 0x02;
    private const byte KindFp2 = 0x03;
    private const byte KindDigest = 0x04;
    private const byte KindUInt64 = 0x05;
    private const byte KindChallenge = 0xC0;
    private const byte KindIndices = 0xC1;
    private const int MaxLabelBytes = 256;

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>Starts a transcript bound to a protocol name (e.g. "prova-proof/v1").</summary>
    public ProofTranscript(string protocol)
    {
        _hash.AppendData("prova-transcript/v1"u8);
        Frame(KindBytes, "protocol", Encoding.UTF8.GetByteCount(protocol));
        _hash.AppendData(Encoding.UTF8.GetBytes(protocol));
    }

    public void AbsorbBytes(string label, ReadOnlySpan<byte> data)
    {
        Frame(KindBytes, label, data.Length);
        _hash.AppendData(data);
    }

    public void AbsorbUInt64(string label, ulong value)
    {
        Frame(KindUInt64, label, 8);
        Span<byte> buf = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buf, value);
        _hash.AppendData(buf);
    }

    public void AbsorbDigest(string label, Hash256 digest)
    {
        Frame(KindDigest, label, Hash256.Length);
        Span<byte> buf = stackalloc byte[Hash256.Length];
        digest.WriteTo(buf);
        _hash.AppendData(buf);
    }

    public void AbsorbFp(string label, Fp value) => AbsorbFps(label, new ReadOnlySpan<Fp>(in value));

    public void AbsorbFps(string label, ReadOnlySpan<Fp> values)
    {
        Frame(KindFp, label, (long)values.Length * Fp.ByteLength);
        // Fp is one canonical ulong; on little-endian hosts its memory is the wire encoding.
        if (BitConverter.IsLittleEndian)
        {
            _hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            return;
        }
        Span<byte> buf = stackalloc byte[Fp.ByteLength];
        foreach (var v in values)
        {
            v.WriteTo(buf);
            _hash.AppendData(buf);
        }
    }

    public void AbsorbFp2(string label, Fp2 value) => AbsorbFp2s(label, new ReadOnlySpan<Fp2>(in value));

    public void AbsorbFp2s(string label, ReadOnlySpan<Fp2> values)
    {
        Frame(KindFp2, label, (long)values.Length * Fp2.ByteLength);
        if (BitConverter.IsLittleEndian)
        {
            _hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            return;
        }
        Span<byte> buf = stackalloc byte[Fp2.ByteLength];
        foreach (var v in values)
        {
            v.WriteTo(buf);
            _hash.AppendData(buf);
        }
    }

    /// <summary>One uniformly random Fp2 challenge bound to everything absorbed so far.</summary>
    public Fp2 ChallengeFp2(string label)
    {
        Span<Fp2> one = stackalloc Fp2[1];
        ChallengeFp2s(label, one);
        return one[0];
    }

    /// <summary>Fills <paramref name="destination"/> with uniformly random Fp2 challenges.</summary>
    public void ChallengeFp2s(string label, Span<Fp2> destination)
    {
        Span<byte> seed = stackalloc byte[32];
        Squeeze(KindChallenge, label, (ulong)destination.Length, seed);
        var limbs = new LimbStream(seed);
        for (int i = 0; i < destination.Length; i++)
        {
            Fp c0 = limbs.NextFp();
            Fp c1 = limbs.NextFp();
            destination[i] = new Fp2(c0, c1);
        }
    }

    public Fp2[] ChallengeFp2s(string label, int count)
    {
        var result = new Fp2[count];
        ChallengeFp2s(label, result);
        return result;
    }

    /// <summary>Uniform indices in [0, bound) (e.g. Merkle columns to open), with repetitions possible.</summary>
    public int[] ChallengeIndices(string label, int count, int bound)
    {
        if (bound <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bound), bound, "index bound must be positive");
        }
        Span<byte> seed = stackalloc byte[32];
        Squeeze(KindIndices, label, ((ulong)(uint)count << 32) | (uint)bound, seed);
        var limbs = new LimbStream(seed);
        var result = new int[count];
        // Rejection sampling from the largest multiple of bound below 2^64: exactly uniform.
        ulong limit = ulong.MaxValue - (ulong.MaxValue % (ulong)bound + 1) % (ulong)bound;
        for (int i = 0; i < count; i++)
        {
            ulong v;
            do
            {
                v = limbs.Next();
            }
            while (v > limit);
            result[i] = (int)(v % (ulong)bound);
        }
        return result;
    }

    public void Dispose() => _hash.Dispose();

    private void Squeeze(byte kind, string label, ulong parameter, Span<byte> seed)
    {
        Frame(kind, label, 8);
        Span<byte> buf = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buf, parameter);
        _hash.AppendData(buf);
        _hash.GetHashAndReset(seed);
        _hash.AppendData("prova-transcript/v1/chain"u8);
        _hash.AppendData(seed);
    }

    private void Frame(byte kind, string label, long payloadLength)
    {
        int labelBytes = Encoding.UTF8.GetByteCount(label);
        if (labelBytes > MaxLabelBytes)
        {
            throw new ArgumentException($"transcript label longer than {MaxLabelBytes} bytes", nameof(label));
        }
        Span<byte> head = stackalloc byte[1 + 4 + MaxLabelBytes + 8];
        head[0] = kind;
        BinaryPrimitives.WriteUInt32LittleEndian(head[1..], (uint)labelBytes);
        Encoding.UTF8.GetBytes(label, head[5..]);
        BinaryPrimitives.WriteUInt64LittleEndian(head[(5 + labelBytes)..], (ulong)payloadLength);
        _hash.AppendData(head[..(5 + labelBytes + 8)]);
    }

    /// <summary>Expands a seed into 64-bit limbs: SHA-256(seed ‖ u32 LE counter), four limbs per block.</summary>
    private ref struct LimbStream
    {
        private readonly ReadOnlySpan<byte> _seed;
        private uint _counter;
        private int _used;
        private ulong _l0, _l1, _l2, _l3;

        public LimbStream(ReadOnlySpan<byte> seed)
        {
            _seed = seed;
            _used = 4;
        }

        public ulong Next()
        {
            if (_used == 4)
            {
                Span<byte> input = stackalloc byte[36];
                _seed.CopyTo(input);
                BinaryPrimitives.WriteUInt32LittleEndian(input[32..], _counter++);
                Span<byte> block = stackalloc byte[32];
                SHA256.HashData(input, block);
                _l0 = BinaryPrimitives.ReadUInt64LittleEndian(block);
                _l1 = BinaryPrimitives.ReadUInt64LittleEndian(block[8..]);
                _l2 = BinaryPrimitives.ReadUInt64LittleEndian(block[16..]);
                _l3 = BinaryPrimitives.ReadUInt64LittleEndian(block[24..]);
                _used = 0;
            }
            return _used++ switch
            {
                0 => _l0,
                1 => _l1,
                2 => _l2,
                _ => _l3,
            };
        }

        public Fp NextFp()
        {
            ulong v;
            do
            {
                v = Next();
            }
            while (v >= Fp.Modulus);
            return Fp.FromRaw(v);
        }
    }
}
