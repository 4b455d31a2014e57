using Prova.Core;
using Prova.Runtime;
using Prova.Runtime.Generation;

namespace Prova.Lm.Tests.Generation;

/// <summary>The network form of a generation: canonical tensors that a receipt hashes and a verifier re-executes.</summary>
public sealed class GenerationRequestTests
{
    private static GenerationRequest Sample() => new()
    {
        PromptIds = [1, 2, 3],
        MaxTokens = 16,
        Sampling = new SamplingOptions { Temperature = 0.7f, TopK = 40, TopP = 0.9f, RepetitionPenalty = 1.3f, Seed = ulong.MaxValue - 5 },
        Stop = ["\n\n", "é!"],
    };

    [Fact]
    public void Tensors_round_trip_every_field_through_the_canonical_bytes()
    {
        var request = Sample();
        var bytes = EncodeBytes(request.ToTensors());
        var back = GenerationRequest.FromTensors(Decode(bytes));
        Assert.Equal(request.PromptIds, back.PromptIds);
        Assert.Null(back.PromptText);
        Assert.Equal(request.MaxTokens, back.MaxTokens);
        Assert.Equal(request.Sampling, back.Sampling);
        Assert.Equal(request.Stop, back.Stop);
        Assert.Equal(request.Hash(), back.Hash());

        var text = request with { PromptIds = null, PromptText = "Hello, jury" };
        Assert.Equal("Hello, jury", GenerationRequest.FromTensors(text.ToTensors()).PromptText);
        Assert.NotEqual(request.Hash(), text.Hash());
    }

    [Fact]
    public void Every_parameter_changes_the_hash()
    {
        var baseline = Sample();
        GenerationRequest[] variants =
        [
            baseline with { PromptIds = [1, 2, 4] },
            baseline with { MaxTokens = 17 },
            baseline with { Sampling = baseline.Sampling with { Temperature = 0.71f } },
            baseline with { Sampling = baseline.Sampling with { TopK = 41 } },
            baseline with { Sampling = baseline.Sampling with { TopP = 0.91f } },
            baseline with { Sampling = baseline.Sampling with { RepetitionPenalty = 1.2f } },
            baseline with { Sampling = baseline.Sampling with { Seed = 1 } },
            baseline with { Stop = ["\n\n"] },
        ];
        var hashes = variants.Select(v => v.Hash()).Append(baseline.Hash()).ToList();
        Assert.Equal(hashes.Count, hashes.Distinct().Count());
    }

    [Theory]
    [InlineData("seed", "needs 'seed'")]
    [InlineData("max_tokens", "needs 'max_tokens'")]
    [InlineData("input_ids", "exactly one of")]
    public void A_missing_tensor_is_named(string name, string message)
    {
        var tensors = Sample().ToTensors();
        tensors.Remove(name);
        Assert.Contains(message, Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ill_typed_or_out_of_range_fields_are_refused_with_their_name()
    {
        var tensors = Sample().ToTensors();
        tensors["temperature"] = Tensor.Create<double>([], [0.7]);
        Assert.Contains("'temperature' must be float32", Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);

        tensors = Sample().ToTensors();
        tensors["top_p"] = Tensor.Create<float>([], [1.5f]);
        Assert.Contains("top-p", Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);

        tensors = Sample().ToTensors();
        tensors["input_ids"] = Tensor.Create<long>([1], [-3]);
        Assert.Contains("input_ids[0]", Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);

        tensors = Sample().ToTensors();
        tensors["stop"] = Tensor.Create<byte>([2], [(byte)'a', (byte)'b']);
        Assert.Contains("0 byte", Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);

        tensors = Sample().ToTensors();
        tensors["extra"] = Tensor.Create<long>([], [1]);
        Assert.Contains("no tensor 'extra'", Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);

        tensors = Sample().ToTensors();
        tensors["prompt"] = Tensor.Create<byte>([1], [0xff]);
        Assert.Contains("exactly one of", Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);
        tensors.Remove("input_ids");
        Assert.Contains("UTF-8", Assert.Throws<InputException>(() => GenerationRequest.FromTensors(tensors)).Message, StringComparison.Ordinal);

        Assert.Throws<InputException>(() => (Sample() with { Stop = ["a", "b", "c", "d", "e"] }).ToTensors());
        Assert.Throws<InputException>(() => (Sample() with { MaxTokens = 0 }).ToTensors());
    }

    [Fact]
    public void Fuzzed_request_bytes_give_a_request_or_an_input_error_never_a_crash()
    {
        int seed = Environment.TickCount;
        var random = new Random(seed);
        byte[] valid = EncodeBytes(Sample().ToTensors());
        int decoded = 0;
        for (int i = 0; i < 3000; i++)
        {
            byte[] bytes = (byte[])valid.Clone();
            for (int m = random.Next(1, 4); m > 0; m--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }
            Dictionary<string, Tensor> tensors;
            try
            {
                tensors = Decode(bytes);
            }
            catch (Exception ex) when (ex is FormatException or ProvaException)
            {
                continue;
            }
            try
            {
                var request = GenerationRequest.FromTensors(tensors);
                Assert.Equal("0x" + TensorEncoding.Hash(tensors), request.Hash());
                decoded++;
            }
            catch (InputException)
            {
                // Expected for most mutations.
            }
        }
        Assert.True(decoded > 0, $"seed {seed}: no mutation survived (the mutations only hit bytes that matter?)");
    }

    [Fact]
    public void Outputs_carry_ids_and_text_and_read_back()
    {
        var outputs = GenerationOutput.ToTensors([5, 6, 7], "héllo");
        var (ids, text) = GenerationOutput.Read(outputs);
        Assert.Equal([5, 6, 7], ids);
        Assert.Equal("héllo", text);
        outputs.Remove("text");
        Assert.Throws<InputException>(() => GenerationOutput.Read(outputs));
    }

    private static byte[] EncodeBytes(Dictionary<string, Tensor> tensors)
    {
        using var stream = new MemoryStream();
        TensorEncoding.Write(stream, tensors);
        return stream.ToArray();
    }

    /// <summary>A strict reader of the canonical encoding, enough for the tests (the node's is CanonicalTensors).</summary>
    private static Dictionary<string, Tensor> Decode(byte[] bytes)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        int pos = 0;
        uint count = ReadU32(bytes, ref pos);
        if (count > 16)
        {
            throw new FormatException("count");
        }
        for (int i = 0; i < count; i++)
        {
            int nameLength = (int)Math.Min(ReadU32(bytes, ref pos), 64);
            Need(bytes, pos, nameLength);
            string name = System.Text.Encoding.UTF8.GetString(bytes, pos, nameLength);
            pos += nameLength;
            Need(bytes, pos, 1);
            var type = (DataType)bytes[pos++];
            uint rank = ReadU32(bytes, ref pos);
            if (rank > 2 || !DataTypes.IsSupported(type) || type == DataType.String)
            {
                throw new FormatException("type");
            }
            var shape = new int[rank];
            long elements = 1;
            for (int d = 0; d < rank; d++)
            {
                Need(bytes, pos, 8);
                ulong dim = BitConverter.ToUInt64(bytes, pos);
                pos += 8;
                if (dim > 4096)
                {
                    throw new FormatException("dim");
                }
                shape[d] = (int)dim;
                elements *= (long)dim;
            }
            int size = (int)(elements * DataTypes.SizeOf(type));
            Need(bytes, pos, size);
            result[name] = Tensor.FromBytes(type, shape, bytes.AsSpan(pos, size));
            pos += size;
        }
        return pos == bytes.Length ? result : throw new FormatException("trailing");
    }

    private static uint ReadU32(byte[] bytes, ref int pos)
    {
        Need(bytes, pos, 4);
        uint value = BitConverter.ToUInt32(bytes, pos);
        pos += 4;
        return value;
    }

    private static void Need(byte[] bytes, int pos, int n)
    {
        if (n < 0 || pos + n > bytes.Length)
        {
            throw new FormatException("truncated");
        }
    }
}
