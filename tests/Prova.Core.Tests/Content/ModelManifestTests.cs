using Prova.Core.Content;

namespace Prova.Core.Tests.Content;

public class ModelManifestTests
{
    private static byte[] Content(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(10_000)]
    public void Stream_and_span_builds_agree_and_chunks_verify(int length)
    {
        var content = Content(length);
        var a = ModelManifest.Build(content, chunkSize: 4096);
        var b = ModelManifest.Build(new MemoryStream(content), chunkSize: 4096);
        Assert.Equal(a.Cid, b.Cid);
        Assert.Equal(length, a.Size);
        Assert.Equal((length + 4095) / 4096, a.ChunkCount);
        for (int i = 0; i < a.ChunkCount; i++)
        {
            Assert.True(a.Verify(i, content.AsSpan((int)a.ChunkOffset(i), a.ChunkLength(i))));
        }
    }

    [Fact]
    public void A_wrong_byte_truncation_or_index_fails_verification()
    {
        var content = Content(10_000);
        var m = ModelManifest.Build(content, chunkSize: 4096);
        var chunk = content.AsSpan(4096, 4096).ToArray();
        Assert.True(m.Verify(1, chunk));
        chunk[100] ^= 1;
        Assert.False(m.Verify(1, chunk));
        Assert.False(m.Verify(1, content.AsSpan(4096, 4095)));
        Assert.False(m.Verify(0, content.AsSpan(4096, 4096)));
        Assert.False(m.Verify(3, content.AsSpan(0, 10)));
        Assert.False(m.Verify(-1, content.AsSpan(0, 10)));
    }

    [Fact]
    public void Encoding_round_trips_and_the_cid_changes_with_any_content_byte_or_chunk_size()
    {
        var content = Content(9000);
        var m = ModelManifest.Build(content, chunkSize: 4096);
        var decoded = ModelManifest.Decode(m.Encode());
        Assert.Equal(m.Cid, decoded.Cid);
        Assert.Equal(m.ChunkHashes, decoded.ChunkHashes);
        Assert.Equal(Cid.ForBytes(m.Encode()), m.Cid);
        content[8999] ^= 0x80;
        Assert.NotEqual(m.Cid, ModelManifest.Build(content, chunkSize: 4096).Cid);
        content[8999] ^= 0x80;
        Assert.NotEqual(m.Cid, ModelManifest.Build(content, chunkSize: 8192).Cid);
        Assert.Equal(ModelManifest.DefaultChunkSize, ModelManifest.Build(content).ChunkSize);
    }

    [Fact]
    public void Decode_refuses_malformed_manifests()
    {
        var good = ModelManifest.Build(Content(9000), chunkSize: 4096).Encode();
        Assert.Throws<ContentFormatException>(() => ModelManifest.Decode(good.AsSpan(0, 10)));
        Assert.Throws<ContentFormatException>(() => ModelManifest.Decode(good.AsSpan(0, good.Length - 1)));
        Assert.Throws<ContentFormatException>(() => ModelManifest.Decode([.. good, 0]));
        var badMagic = (byte[])good.Clone();
        badMagic[0] = (byte)'X';
        Assert.Throws<ContentFormatException>(() => ModelManifest.Decode(badMagic));
        var badCount = (byte[])good.Clone();
        badCount[20] = 2;
        Assert.Contains("needs 3", Assert.Throws<ContentFormatException>(() => ModelManifest.Decode(badCount)).Message);
        var badChunk = (byte[])good.Clone();
        badChunk[16] = 1;
        badChunk[17] = 0;
        Assert.Contains("chunk size", Assert.Throws<ContentFormatException>(() => ModelManifest.Decode(badChunk)).Message);
    }

    [Fact]
    public void Random_mutations_decode_or_throw_the_typed_error()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        var good = ModelManifest.Build(Content(9000), chunkSize: 4096).Encode();
        for (int i = 0; i < 3000; i++)
        {
            var bytes = (byte[])good.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--)
            {
                bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            }
            bytes = bytes[..rng.Next(bytes.Length + 1)];
            try
            {
                ModelManifest.Decode(bytes);
            }
            catch (ContentFormatException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }
}
