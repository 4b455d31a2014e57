using System.Security.Cryptography;
using Prova.Core;

namespace Prova.Core.Tests;

public class TensorEncodingTests
{
    [Fact]
    public void EncodingMatchesTheDocumentedLayout()
    {
        var t = Tensor.Create([2], new[] { 1f, -2f });
        byte[] expected =
        [
            1,                          // dtype float32
            1, 0, 0, 0,                 // rank 1
            2, 0, 0, 0, 0, 0, 0, 0,     // dim 2
            0x00, 0x00, 0x80, 0x3F,     // 1.0f
            0x00, 0x00, 0x00, 0xC0,     // -2.0f
        ];
        Assert.Equal(expected, TensorEncoding.Encode(t));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(expected)), TensorEncoding.Hash(t));
    }

    [Fact]
    public void NamedTensorsAreHashedInOrdinalNameOrder()
    {
        var a = Tensor.Create([1], new long[] { 7 });
        var b = Tensor.Create([], new[] { true });
        var one = new Dictionary<string, Tensor> { ["b"] = b, ["B"] = a };
        var other = new Dictionary<string, Tensor> { ["B"] = a, ["b"] = b };
        Assert.Equal(TensorEncoding.Hash(one), TensorEncoding.Hash(other));

        using var stream = new MemoryStream();
        TensorEncoding.Write(stream, one);
        byte[] expected =
        [
            2, 0, 0, 0,                                 // two tensors
            1, 0, 0, 0, (byte)'B',                      // "B" sorts before "b" (ordinal)
            7, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0,
            1, 0, 0, 0, (byte)'b',
            9, 0, 0, 0, 0, 1,                           // bool scalar: rank 0, one byte
        ];
        Assert.Equal(expected, stream.ToArray());
    }

    [Fact]
    public void HashSeesEveryPartOfTheTensor()
    {
        var baseline = TensorEncoding.Hash(Tensor.Create([2, 2], new[] { 1f, 2f, 3f, 4f }));
        Assert.NotEqual(baseline, TensorEncoding.Hash(Tensor.Create([4], new[] { 1f, 2f, 3f, 4f })));
        Assert.NotEqual(baseline, TensorEncoding.Hash(Tensor.Create([2, 2], new[] { 1f, 2f, 3f, 5f })));
        Assert.NotEqual(baseline, TensorEncoding.Hash(Tensor.Create([2, 2], new[] { 1, 2, 3, 4 })));
        Assert.NotEqual(
            TensorEncoding.Hash(Tensor.Create([1], new[] { 0f })),
            TensorEncoding.Hash(Tensor.Create([1], new[] { -0f })));
        var named = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1], new[] { 1f }) };
        var renamed = new Dictionary<string, Tensor> { ["y"] = Tensor.Create([1], new[] { 1f }) };
        Assert.NotEqual(TensorEncoding.Hash(named), TensorEncoding.Hash(renamed));
    }
}
