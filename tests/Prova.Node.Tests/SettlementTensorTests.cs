using Prova.Core;
using Prova.Node.Settlement;
using Xunit.Abstractions;

namespace Prova.Node.Tests;

public class SettlementTensorTests(ITestOutputHelper output)
{
    private static Dictionary<string, Tensor> Sample() => new()
    {
        ["x"] = Tensor.Create([1, 3], new float[] { 1, -2, 0.5f }),
        ["a"] = Tensor.Create([2], new long[] { 7, -9 }),
        ["flag"] = Tensor.Create([], new bool[] { true }),
        ["empty"] = Tensor.Create([0, 4], Array.Empty<int>()),
    };

    [Fact]
    public void Decoding_the_canonical_encoding_gives_back_the_same_bytes_and_hash()
    {
        var tensors = Sample();
        byte[] bytes = CanonicalTensors.Encode(tensors);
        var decoded = CanonicalTensors.Decode(bytes);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), decoded.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(bytes, CanonicalTensors.Encode(decoded));
        Assert.Equal(TensorEncoding.Hash(tensors), TensorEncoding.Hash(decoded));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), TensorEncoding.Hash(tensors));
    }

    /// <summary>The request bytes InferenceRequests.requestGeneration builds on chain (the vector pinned in
    /// tests/Prova.Core.Tests/GenerationVectorTests.cs and contracts/test/Generation.t.sol).</summary>
    [Fact]
    public void A_generation_request_built_on_chain_decodes_to_its_tensors()
    {
        byte[] bytes = Convert.FromHexString(
            "080000000a0000006d61785f746f6b656e730700000000200000000000000006000000" +
            "70726f6d707402010000000d0000000000000048692c2050726f766120e29c9312000000" +
            "72657065746974696f6e5f70656e616c74790100000000cdcc8c3f04000000736565640d" +
            "00000000efcdab89674523010400000073746f70020100000009000000000000000a0a00" +
            "557365723a000b00000074656d706572617475726501000000003333333f05000000746f" +
            "705f6b0700000000280000000000000005000000746f705f7001000000006666663f");
        var tensors = CanonicalTensors.Decode(bytes);
        Assert.Equal(["max_tokens", "prompt", "repetition_penalty", "seed", "stop", "temperature", "top_k", "top_p"], tensors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(32L, tensors["max_tokens"].Span<long>()[0]);
        Assert.Equal(0, tensors["max_tokens"].Rank);
        Assert.Equal("Hi, Prova ✓", System.Text.Encoding.UTF8.GetString(tensors["prompt"].Span<byte>()));
        Assert.Equal(1.1f, tensors["repetition_penalty"].Span<float>()[0]);
        Assert.Equal(0x0123456789abcdefUL, tensors["seed"].Span<ulong>()[0]);
        Assert.Equal("\n\n\0User:\0"u8.ToArray(), tensors["stop"].Span<byte>().ToArray());
        Assert.Equal(0.7f, tensors["temperature"].Span<float>()[0]);
        Assert.Equal(40L, tensors["top_k"].Span<long>()[0]);
        Assert.Equal(0.9f, tensors["top_p"].Span<float>()[0]);
        Assert.Equal(bytes, CanonicalTensors.Encode(tensors));
    }

    [Fact]
    public void Malformed_bytes_are_typed_errors_never_crashes()
    {
        byte[] bytes = CanonicalTensors.Encode(Sample());
        for (int n = 0; n < bytes.Length; n++)
        {
            Assert.Throws<CanonicalTensorException>(() => CanonicalTensors.Decode(bytes.AsSpan(0, n)));
        }
        Assert.Throws<CanonicalTensorException>(() => CanonicalTensors.Decode([.. bytes, 0]));
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int round = 0; round < 3000; round++)
        {
            var mutated = bytes.ToArray();
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }
            try
            {
                var decoded = CanonicalTensors.Decode(mutated);
                // Whatever decodes re-encodes to exactly the same bytes (one encoding per tensor set).
                Assert.Equal(mutated, CanonicalTensors.Encode(decoded));
            }
            catch (CanonicalTensorException)
            {
            }
        }
    }

    [Fact]
    public void Huge_declared_shapes_are_rejected_before_allocating()
    {
        // count 1, name "x", float32, rank 2, dims 2^31-1 × 2^31-1, no data.
        byte[] bytes = [1, 0, 0, 0, 1, 0, 0, 0, (byte)'x', 1, 2, 0, 0, 0, 255, 255, 255, 127, 0, 0, 0, 0, 255, 255, 255, 127, 0, 0, 0, 0];
        Assert.Contains("more data", Assert.Throws<CanonicalTensorException>(() => CanonicalTensors.Decode(bytes)).Message);
    }
}
