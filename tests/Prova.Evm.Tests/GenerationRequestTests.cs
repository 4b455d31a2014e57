using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Prova.Core;
using Prova.Core.Crypto;
using Prova.Evm.Contracts;
using Prova.Evm.Rpc;
using Xunit.Abstractions;

namespace Prova.Evm.Tests;

/// <summary>
/// InferenceRequests.requestGeneration on a real anvil, through the generated binding: the request bytes the
/// contract builds and the outputs it parses are exactly what Prova.Core.TensorEncoding writes, for random
/// requests (the seed is printed) as well as the pinned vector (contracts/test/Generation.t.sol).
/// </summary>
public class GenerationRequestTests(AnvilFixture fixture, ITestOutputHelper output) : IClassFixture<AnvilFixture>
{
    private static readonly Hash256 s_model = Keccak256.Hash("generation-model");

    private async Task<InferenceRequests> DeployAsync()
    {
        var account = fixture.Anvil.Account(5);
        var models = await ModelRegistry.DeployAsync(account);
        await models.RegisterAsync(s_model, "chat");
        // requestGeneration needs only the model registry; fulfilment (not used here) needs the others.
        return await InferenceRequests.DeployAsync(account, models.Address, models.Address, models.Address, 3600, 500_000);
    }

    private static Dictionary<string, Tensor> Request(byte[] prompt, InferenceRequests.GenerationParams p, byte[] stop) => new()
    {
        ["prompt"] = Tensor.Create([prompt.Length], prompt),
        ["max_tokens"] = Tensor.Create([], new long[] { p.MaxTokens }),
        ["temperature"] = Tensor.Create([], new[] { BitConverter.UInt32BitsToSingle(p.Temperature) }),
        ["top_k"] = Tensor.Create([], new long[] { p.TopK }),
        ["top_p"] = Tensor.Create([], new[] { BitConverter.UInt32BitsToSingle(p.TopP) }),
        ["repetition_penalty"] = Tensor.Create([], new[] { BitConverter.UInt32BitsToSingle(p.RepetitionPenalty) }),
        ["seed"] = Tensor.Create([], new[] { p.Seed }),
        ["stop"] = Tensor.Create([stop.Length], stop),
    };

    private static byte[] Encode(Dictionary<string, Tensor> tensors)
    {
        using var stream = new MemoryStream();
        TensorEncoding.Write(stream, tensors);
        return stream.ToArray();
    }

    private static readonly string[] s_pieces = ["a", "b", "c", " ", "X", "0", "9", ",", ".", "?", "\n", "✓", "ñ", "漢", "😀"];

    /// <summary>1..maxPieces random pieces: ASCII and 2-, 3- and 4-byte UTF-8 characters.</summary>
    private static string RandomText(Random random, int maxPieces) =>
        string.Concat(Enumerable.Range(0, random.Next(1, maxPieces + 1)).Select(_ => s_pieces[random.Next(s_pieces.Length)]));

    [AnvilFact]
    public async Task Contract_builds_the_same_request_bytes_as_TensorEncoding_for_random_requests()
    {
        var requests = await DeployAsync();
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int i = 0; i < 12; i++)
        {
            byte[] prompt = Encoding.UTF8.GetBytes(RandomText(random, 200));
            var stops = Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomText(random, 8));
            byte[] stop = [.. stops.SelectMany(s => Encoding.UTF8.GetBytes(s).Append((byte)0))];
            var p = new InferenceRequests.GenerationParams(
                MaxTokens: (uint)random.Next(1, 2049),
                Temperature: BitConverter.SingleToUInt32Bits(i == 0 ? 0f : random.NextSingle() * 2),
                TopK: (uint)random.Next(0, 1000),
                TopP: BitConverter.SingleToUInt32Bits(1f - random.NextSingle() * 0.99f),
                RepetitionPenalty: BitConverter.SingleToUInt32Bits(0.5f + random.NextSingle()),
                Seed: (ulong)random.NextInt64() ^ ((ulong)random.Next() << 63));
            byte[] expected = Encode(Request(prompt, p, stop));
            await requests.CheckGenerationParamsAsync(p, stop);
            byte[] built = await requests.GenerationInputAsync(prompt, p, stop);
            Assert.True(expected.AsSpan().SequenceEqual(built), $"request {i} (seed {seed}): contract built {Convert.ToHexStringLower(built)}, TensorEncoding {Convert.ToHexStringLower(expected)}");
        }
    }

    [AnvilFact]
    public async Task RequestGeneration_emits_the_canonical_bytes_and_their_sha256()
    {
        var requests = await DeployAsync();
        byte[] prompt = Encoding.UTF8.GetBytes("Hi, Prova ✓");
        byte[] stop = Encoding.UTF8.GetBytes("\n\n\0User:\0");
        var p = new InferenceRequests.GenerationParams(32, 0x3f333333, 40, 0x3f666666, 0x3f8ccccd, 0x0123456789abcdef);
        var receipt = await requests.RequestGenerationAsync(s_model, prompt, p, stop, "quorum:2", ethValue: 1000);
        var requested = Assert.Single(requests.InferenceRequestedEventsIn(receipt));
        var tensors = Request(prompt, p, stop);
        Assert.Equal(Encode(tensors), requested.Input);
        Assert.Equal(TensorEncoding.Hash(tensors), Convert.ToHexStringLower(requested.InputHash.ToArray()));
        Assert.Equal("0a369b055633f91d465c546616925b0afb63cce51d8deba26dcd4c808f9dd2cf", Convert.ToHexStringLower(requested.InputHash.ToArray()));
        Assert.Equal("quorum:2", requested.Mode);
        Assert.Equal(new BigInteger(1000), requested.Fee);
        Assert.Equal("", requested.InputURI);
        var stored = await requests.GetRequestAsync(requested.RequestId);
        Assert.True(stored.Generation);
        Assert.Equal(32u, stored.MaxTokens);
        Assert.Equal(requested.InputHash, stored.InputHash);
    }

    [AnvilFact]
    public async Task Contract_parses_outputs_written_by_TensorEncoding_and_names_bad_ones()
    {
        var requests = await DeployAsync();
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int i = 0; i < 6; i++)
        {
            long[] ids = [.. Enumerable.Range(0, random.Next(0, 64)).Select(_ => random.NextInt64(0, 200_000))];
            byte[] text = Encoding.UTF8.GetBytes(i == 0 ? "" : RandomText(random, 300));
            byte[] bytes = Encode(new Dictionary<string, Tensor>
            {
                ["output_ids"] = Tensor.Create([ids.Length], ids),
                ["text"] = Tensor.Create([text.Length], text),
            });
            var parsed = await requests.ParseGenerationOutputAsync(bytes);
            Assert.Equal(new BigInteger(ids.Length), parsed.Tokens);
            Assert.Equal(text, bytes[(int)parsed.TextStart..]);
        }

        // One more tensor than a generation has: a typed revert naming the problem.
        byte[] extra = Encode(new Dictionary<string, Tensor>
        {
            ["output_ids"] = Tensor.Create([1], new long[] { 5 }),
            ["text"] = Tensor.Create([1], new byte[] { 65 }),
            ["zz"] = Tensor.Create([1], new byte[] { 0 }),
        });
        var ex = await Assert.ThrowsAsync<ContractRevertException>(() => requests.ParseGenerationOutputAsync(extra));
        Assert.Equal("MalformedGenerationOutput", ex.Reason.ErrorName);
        Assert.Equal("not count 2, output_ids int64 rank 1", Assert.Single(ex.Reason.Arguments!));
    }

    [AnvilFact]
    public async Task Out_of_range_parameters_revert_with_the_parameter_name()
    {
        var requests = await DeployAsync();
        var ok = new InferenceRequests.GenerationParams(16, 0, 0, BitConverter.SingleToUInt32Bits(1f), BitConverter.SingleToUInt32Bits(1f), 0);
        await requests.CheckGenerationParamsAsync(ok, []);
        (InferenceRequests.GenerationParams P, byte[] Stop, string Name)[] bad =
        [
            (ok with { MaxTokens = 0 }, [], "maxTokens"),
            (ok with { MaxTokens = 2049 }, [], "maxTokens"),
            (ok with { Temperature = BitConverter.SingleToUInt32Bits(-1f) }, [], "temperature"),
            (ok with { Temperature = BitConverter.SingleToUInt32Bits(float.NaN) }, [], "temperature"),
            (ok with { TopP = BitConverter.SingleToUInt32Bits(1.5f) }, [], "topP"),
            (ok with { RepetitionPenalty = 0 }, [], "repetitionPenalty"),
            (ok, "no terminator"u8.ToArray(), "stop"),
        ];
        foreach (var (p, stop, name) in bad)
        {
            var ex = await Assert.ThrowsAsync<ContractRevertException>(() => requests.CheckGenerationParamsAsync(p, stop));
            Assert.Equal("InvalidGenerationParam", ex.Reason.ErrorName);
            Assert.Equal(name, Assert.Single(ex.Reason.Arguments!));
        }
        var send = await Assert.ThrowsAnyAsync<EvmException>(() => requests.RequestGenerationAsync(s_model, "hi"u8.ToArray(), ok with { TopP = 0 }, [], "attested"));
        Assert.Contains("InvalidGenerationParam", send.Message, StringComparison.Ordinal);
    }
}
