using System.Security.Cryptography;
using System.Text;
using Prova.Core;

namespace Prova.Core.Tests;

/// <summary>
/// Pins the canonical bytes of one generation request and one generation output (docs/settlement.md,
/// "Generations"). contracts/test/Generation.t.sol asserts that InferenceRequests.requestGeneration builds the
/// same request bytes on chain and parses the same output bytes, so the node and the contract agree on them.
/// </summary>
public class GenerationVectorTests
{
    /// <summary>Hi, Prova ✓ · max_tokens 32 · temperature 0.7 · top_k 40 · top_p 0.9 · repetition_penalty 1.1 · seed 0x0123456789abcdef · stop "\n\n", "User:".</summary>
    internal const string RequestHex =
        "080000000a0000006d61785f746f6b656e730700000000200000000000000006000000" +
        "70726f6d707402010000000d0000000000000048692c2050726f766120e29c9312000000" +
        "72657065746974696f6e5f70656e616c74790100000000cdcc8c3f04000000736565640d" +
        "00000000efcdab89674523010400000073746f70020100000009000000000000000a0a00" +
        "557365723a000b00000074656d706572617475726501000000003333333f05000000746f" +
        "705f6b0700000000280000000000000005000000746f705f7001000000006666663f";

    internal const string RequestSha256 = "0a369b055633f91d465c546616925b0afb63cce51d8deba26dcd4c808f9dd2cf";

    /// <summary>output_ids [9906, 11, 1917, 2] · text "Hello, world ✓".</summary>
    internal const string OutputHex =
        "020000000a0000006f75747075745f69647307010000000400000000000000b226000000" +
        "0000000b000000000000007d0700000000000002000000000000000400000074657874020100" +
        "0000100000000000000048656c6c6f2c20776f726c6420e29c93";

    internal const string OutputSha256 = "c56bf8b10f17026c8323187308e110113b6aaa9ad647b214cc7f27a1c11c734f";

    private static byte[] Encode(Dictionary<string, Tensor> tensors)
    {
        using var stream = new MemoryStream();
        TensorEncoding.Write(stream, tensors);
        return stream.ToArray();
    }

    private static Tensor Utf8(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return Tensor.Create([bytes.Length], bytes);
    }

    [Fact]
    public void GenerationRequestEncodesToTheVectorTheContractBuilds()
    {
        var request = new Dictionary<string, Tensor>
        {
            ["prompt"] = Utf8("Hi, Prova ✓"),
            ["max_tokens"] = Tensor.Create([], new long[] { 32 }),
            ["temperature"] = Tensor.Create([], new[] { 0.7f }),
            ["top_k"] = Tensor.Create([], new long[] { 40 }),
            ["top_p"] = Tensor.Create([], new[] { 0.9f }),
            ["repetition_penalty"] = Tensor.Create([], new[] { 1.1f }),
            ["seed"] = Tensor.Create([], new ulong[] { 0x0123456789abcdef }),
            ["stop"] = Utf8("\n\n\0User:\0"),
        };
        byte[] bytes = Encode(request);
        Assert.Equal(RequestHex, Convert.ToHexStringLower(bytes));
        Assert.Equal(RequestSha256, TensorEncoding.Hash(request));
        Assert.Equal(RequestSha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        // The contract takes the float parameters as binary32 bit patterns.
        Assert.Equal(0x3f333333u, BitConverter.SingleToUInt32Bits(0.7f));
        Assert.Equal(0x3f666666u, BitConverter.SingleToUInt32Bits(0.9f));
        Assert.Equal(0x3f8ccccdu, BitConverter.SingleToUInt32Bits(1.1f));
    }

    [Fact]
    public void GenerationOutputEncodesToTheVectorTheContractParses()
    {
        var output = new Dictionary<string, Tensor>
        {
            ["text"] = Utf8("Hello, world ✓"),
            ["output_ids"] = Tensor.Create([4], new long[] { 9906, 11, 1917, 2 }),
        };
        byte[] bytes = Encode(output);
        Assert.Equal(OutputHex, Convert.ToHexStringLower(bytes));
        Assert.Equal(OutputSha256, TensorEncoding.Hash(output));
        // 52 bytes of headers, 8 per id, then the text.
        Assert.Equal(52 + 8 * 4 + Encoding.UTF8.GetByteCount("Hello, world ✓"), bytes.Length);
    }
}
