using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Prova.Core.Crypto;

/// <summary>
/// scrypt (RFC 7914) without RFC 7914's "N &lt; 2^(128·r/8)" restriction, which Ethereum keystores
/// ignore (the Web3 Secret Storage test vector uses n = 2^18 with r = 1, and BouncyCastle's SCrypt
/// refuses that). Callers bound n, r and p before calling: memory is 128·n·r bytes.
/// </summary>
public static class Scrypt
{
    public static byte[] DeriveKey(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int n, int r, int p, int length)
    {
        if (n < 2 || (n & (n - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "scrypt n must be a power of two >= 2");
        }
        if (r < 1 || p < 1 || (long)r * p >= 1 << 30 || (long)n * r > int.MaxValue / 32)
        {
            throw new ArgumentOutOfRangeException(nameof(r), r, "scrypt r and p must be >= 1 and 32·n·r must fit in an array");
        }
        int blockWords = 32 * r;
        byte[] b = Rfc2898DeriveBytes.Pbkdf2(password, salt, 1, HashAlgorithmName.SHA256, p * 128 * r);
        var x = new uint[blockWords];
        var y = new uint[blockWords];
        var v = new uint[(long)blockWords * n];
        var scratch = new uint[16];
        try
        {
            for (int i = 0; i < p; i++)
            {
                Span<byte> chunk = b.AsSpan(i * 128 * r, 128 * r);
                for (int w = 0; w < blockWords; w++)
                {
                    x[w] = BinaryPrimitives.ReadUInt32LittleEndian(chunk[(4 * w)..]);
                }
                RoMix(x, y, v, n, r, scratch);
                for (int w = 0; w < blockWords; w++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(chunk[(4 * w)..], x[w]);
                }
            }
            return Rfc2898DeriveBytes.Pbkdf2(password, b, 1, HashAlgorithmName.SHA256, length);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(b);
            Array.Clear(v);
            Array.Clear(x);
            Array.Clear(y);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RoMix(uint[] xArray, uint[] yArray, uint[] vArray, int n, int r, uint[] scratch)
    {
        int blockWords = 32 * r;
        fixed (uint* x0 = xArray, y0 = yArray, v = vArray, t = scratch)
        {
            uint* x = x0;
            uint* y = y0;
            for (int i = 0; i < n; i++)
            {
                new ReadOnlySpan<uint>(x, blockWords).CopyTo(new Span<uint>(v + (long)i * blockWords, blockWords));
                BlockMix(x, null, y, r, t);
                uint* swap = x;
                x = y;
                y = swap;
            }
            for (int i = 0; i < n; i++)
            {
                // Integerify: the first word of the last 64-byte block; n is a power of two.
                uint j = x[blockWords - 16] & (uint)(n - 1);
                BlockMix(x, v + (long)j * blockWords, y, r, t);
                uint* swap = x;
                x = y;
                y = swap;
            }
            // n is even, so after 2n swaps the result is back in xArray.
        }
    }

    // BlockMix_{Salsa20/8, r} of (input ⊕ mask): Y_i = Salsa(Y_{i-1} ⊕ B_i); output = Y_0, Y_2, …, Y_1, Y_3, ….
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void BlockMix(uint* input, uint* mask, uint* output, int r, uint* t)
    {
        uint* last = input + (2 * r - 1) * 16;
        if (mask is null)
        {
            for (int w = 0; w < 16; w++)
            {
                t[w] = last[w];
            }
        }
        else
        {
            uint* lastMask = mask + (2 * r - 1) * 16;
            for (int w = 0; w < 16; w++)
            {
                t[w] = last[w] ^ lastMask[w];
            }
        }
        for (int i = 0; i < 2 * r; i++)
        {
            uint* block = input + i * 16;
            if (mask is null)
            {
                for (int w = 0; w < 16; w++)
                {
                    t[w] ^= block[w];
                }
            }
            else
            {
                uint* blockMask = mask + i * 16;
                for (int w = 0; w < 16; w++)
                {
                    t[w] ^= block[w] ^ blockMask[w];
                }
            }
            Salsa20_8(t);
            uint* destination = output + (i % 2 == 0 ? i / 2 : r + i / 2) * 16;
            for (int w = 0; w < 16; w++)
            {
                destination[w] = t[w];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Salsa20_8(uint* b)
    {
        uint x0 = b[0], x1 = b[1], x2 = b[2], x3 = b[3], x4 = b[4], x5 = b[5], x6 = b[6], x7 = b[7];
        uint x8 = b[8], x9 = b[9], x10 = b[10], x11 = b[11], x12 = b[12], x13 = b[13], x14 = b[14], x15 = b[15];
        for (int round = 0; round < 8; round += 2)
        {
            x4 ^= BitOperations.RotateLeft(x0 + x12, 7); x8 ^= BitOperations.RotateLeft(x4 + x0, 9);
            x12 ^= BitOperations.RotateLeft(x8 + x4, 13); x0 ^= BitOperations.RotateLeft(x12 + x8, 18);
            x9 ^= BitOperations.RotateLeft(x5 + x1, 7); x13 ^= BitOperations.RotateLeft(x9 + x5, 9);
            x1 ^= BitOperations.RotateLeft(x13 + x9, 13); x5 ^= BitOperations.RotateLeft(x1 + x13, 18);
            x14 ^= BitOperations.RotateLeft(x10 + x6, 7); x2 ^= BitOperations.RotateLeft(x14 + x10, 9);
            x6 ^= BitOperations.RotateLeft(x2 + x14, 13); x10 ^= BitOperations.RotateLeft(x6 + x2, 18);
            x3 ^= BitOperations.RotateLeft(x15 + x11, 7); x7 ^= BitOperations.RotateLeft(x3 + x15, 9);
            x11 ^= BitOperations.RotateLeft(x7 + x3, 13); x15 ^= BitOperations.RotateLeft(x11 + x7, 18);

            x1 ^= BitOperations.RotateLeft(x0 + x3, 7); x2 ^= BitOperations.RotateLeft(x1 + x0, 9);
            x3 ^= BitOperations.RotateLeft(x2 + x1, 13); x0 ^= BitOperations.RotateLeft(x3 + x2, 18);
            x6 ^= BitOperations.RotateLeft(x5 + x4, 7); x7 ^= BitOperations.RotateLeft(x6 + x5, 9);
            x4 ^= BitOperations.RotateLeft(x7 + x6, 13); x5 ^= BitOperations.RotateLeft(x4 + x7, 18);
            x11 ^= BitOperations.RotateLeft(x10 + x9, 7); x8 ^= BitOperations.RotateLeft(x11 + x10, 9);
            x9 ^= BitOperations.RotateLeft(x8 + x11, 13); x10 ^= BitOperations.RotateLeft(x9 + x8, 18);
            x12 ^= BitOperations.RotateLeft(x15 + x14, 7); x13 ^= BitOperations.RotateLeft(x12 + x15, 9);
            x14 ^= BitOperations.RotateLeft(x13 + x12, 13); x15 ^= BitOperations.RotateLeft(x14 + x13, 18);
        }
        b[0] += x0; b[1] += x1; b[2] += x2; b[3] += x3; b[4] += x4; b[5] += x5; b[6] += x6; b[7] += x7;
        b[8] += x8; b[9] += x9; b[10] += x10; b[11] += x11; b[12] += x12; b[13] += x13; b[14] += x14; b[15] += x15;
    }
}
