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
