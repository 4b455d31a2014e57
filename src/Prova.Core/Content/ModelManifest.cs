using System.Buffers.Binary;
using System.Security.Cryptography;
using Prova.Core.Crypto;

namespace Prova.Core.Content;

/// <summary>
/// What a model CID names: the content's size, its chunk size and the SHA-256 of every chunk, so a
/// peer can check each chunk on its own before storing it (a lying peer costs at most one chunk).
/// The CID is <c>Cid.ForBytes(manifest.Encode())</c> (raw codec, sha2-256). Encoding (docs/node-api.md):
/// <code>
///   "PROVAMF1"          8 bytes, ASCII magic (format version 1)
///   u64 LE              total content size in bytes
///   u32 LE              chunk size (1 KiB … 64 MiB); every chunk but the last is this long
///   u32 LE              chunk count = ceil(size / chunkSize)
///   count × 32 bytes    SHA-256 of each chunk, in order
/// </code>
/// </summary>
public sealed class ModelManifest
{
    public const int DefaultChunkSize = 1 << 20;
    public const int MinChunkSize = 1 << 10;
    public const int MaxChunkSize = 64 << 20;
    public const int HeaderLength = 24;

    private static ReadOnlySpan<byte> Magic => "PROVAMF1"u8;

    private readonly Hash256[] _chunkHashes;

    private ModelManifest(long size, int chunkSize, Hash256[] chunkHashes)
    {
        Size = size;
        ChunkSize = chunkSize;
        _chunkHashes = chunkHashes;
        Encoded = EncodeCore();
        Cid = Cid.ForBytes(Encoded);
    }

    public long Size { get; }

    public int ChunkSize { get; }

    public int ChunkCount => _chunkHashes.Length;

    public IReadOnlyList<Hash256> ChunkHashes => _chunkHashes;

    /// <summary>The CID of the model: sha2-256 of <see cref="Encode"/>.</summary>
    public Cid Cid { get; }

    private byte[] Encoded { get; }

    /// <summary>The canonical bytes (a fresh copy).</summary>
    public byte[] Encode() => (byte[])Encoded.Clone();

    /// <summary>Length of chunk <paramref name="index"/> (the last one may be shorter).</summary>
    public int ChunkLength(int index)
    {
        CheckIndex(index);
        return (int)Math.Min(ChunkSize, Size - (long)index * ChunkSize);
    }

    /// <summary>Byte offset of chunk <paramref name="index"/> in the content.</summary>
    public long ChunkOffset(int index)
    {
        CheckIndex(index);
        return (long)index * ChunkSize;
    }

    /// <summary>True when <paramref name="bytes"/> is exactly chunk <paramref name="index"/>.</summary>
    public bool Verify(int index, ReadOnlySpan<byte> bytes)
    {
        if ((uint)index >= (uint)_chunkHashes.Length || bytes.Length != ChunkLength(index))
        {
            return false;
        }
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(bytes, digest);
        return new Hash256(digest) == _chunkHashes[index];
    }

    /// <summary>Reads <paramref name="content"/> to its end and builds its manifest.</summary>
    public static ModelManifest Build(Stream content, int chunkSize = DefaultChunkSize)
    {
        CheckChunkSize(chunkSize);
        var hashes = new List<Hash256>();
        var buffer = new byte[chunkSize];
        long size = 0;
        Span<byte> digest = stackalloc byte[32];
        while (true)
        {
            int filled = content.ReadAtLeast(buffer, chunkSize, throwOnEndOfStream: false);
            if (filled == 0)
            {
                break;
            }
            SHA256.HashData(buffer.AsSpan(0, filled), digest);
            hashes.Add(new Hash256(digest));
            size += filled;
            if (filled < chunkSize)
            {
                break;
            }
        }
        return new ModelManifest(size, chunkSize, [.. hashes]);
    }

    public static ModelManifest Build(ReadOnlySpan<byte> content, int chunkSize = DefaultChunkSize)
    {
        CheckChunkSize(chunkSize);
        var hashes = new Hash256[(content.Length + chunkSize - 1) / chunkSize];
        Span<byte> digest = stackalloc byte[32];
        for (int i = 0; i < hashes.Length; i++)
        {
            var chunk = content.Slice(i * chunkSize, Math.Min(chunkSize, content.Length - i * chunkSize));
            SHA256.HashData(chunk, digest);
            hashes[i] = new Hash256(digest);
        }
        return new ModelManifest(content.Length, chunkSize, hashes);
    }

    /// <summary>Parses the canonical encoding, refusing anything else (including trailing bytes).</summary>
    public static ModelManifest Decode(ReadOnlySpan<byte> bytes) => Decode(bytes, int.MaxValue, MinChunkSize);

    /// <summary>
    /// Parses the canonical encoding and refuses, from the 24-byte header alone (before any hash is read), a manifest
    /// listing more than <paramref name="maxChunkCount"/> chunks or cut into chunks smaller than
    /// <paramref name="minChunkSize"/> (content of a single chunk may declare any valid chunk size).
    /// </summary>
    public static ModelManifest Decode(ReadOnlySpan<byte> bytes, int maxChunkCount, int minChunkSize)
    {
        if (bytes.Length < HeaderLength || !bytes[..8].SequenceEqual(Magic))
        {
            throw new ContentFormatException("malformed manifest: it does not start with the \"PROVAMF1\" header (24 bytes)");
        }
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        uint chunkSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]);
        if (chunkSize < MinChunkSize || chunkSize > MaxChunkSize)
        {
            throw new ContentFormatException($"malformed manifest: chunk size {chunkSize} is outside {MinChunkSize}..{MaxChunkSize}");
        }
        if (size > long.MaxValue / 2)
        {
            throw new ContentFormatException($"malformed manifest: size {size} is too large");
        }
        ulong expected = (size + chunkSize - 1) / chunkSize;
        if (count != expected)
        {
            throw new ContentFormatException($"malformed manifest: {count} chunks listed but a size of {size} bytes in chunks of {chunkSize} needs {expected}");
        }
        if (count > (uint)Math.Max(0, maxChunkCount))
        {
            throw new ContentFormatException($"manifest refused: it lists {count} chunks, more than the {maxChunkCount} allowed; cut the content into larger chunks");
        }
        if (count > 1 && chunkSize < minChunkSize)
        {
            throw new ContentFormatException($"manifest refused: chunks of {chunkSize} bytes are smaller than the {minChunkSize} allowed (only content of a single chunk may be smaller)");
        }
        if ((ulong)(bytes.Length - HeaderLength) != (ulong)count * 32)
        {
            throw new ContentFormatException($"malformed manifest: {bytes.Length} bytes, but {count} chunks need exactly {HeaderLength + (long)count * 32}");
        }
        var hashes = new Hash256[count];
        for (int i = 0; i < hashes.Length; i++)
        {
            hashes[i] = new Hash256(bytes.Slice(HeaderLength + i * 32, 32));
        }
        return new ModelManifest((long)size, (int)chunkSize, hashes);
    }

    private byte[] EncodeCore()
    {
        var bytes = new byte[HeaderLength + _chunkHashes.Length * 32];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), (ulong)Size);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), (uint)ChunkSize);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), (uint)_chunkHashes.Length);
        for (int i = 0; i < _chunkHashes.Length; i++)
        {
            _chunkHashes[i].WriteTo(bytes.AsSpan(HeaderLength + i * 32));
        }
        return bytes;
    }

    private static void CheckChunkSize(int chunkSize)
    {
        if (chunkSize < MinChunkSize || chunkSize > MaxChunkSize)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, $"chunk size must be within {MinChunkSize}..{MaxChunkSize}");
        }
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_chunkHashes.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the manifest has {_chunkHashes.Length} chunks");
        }
    }
}
