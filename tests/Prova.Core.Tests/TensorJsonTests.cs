using System.Text;
using Prova.Core;
using Xunit.Abstractions;

namespace Prova.Core.Tests;

public class TensorJsonTests(ITestOutputHelper output)
{
    [Fact]
    public void ReadsFlatFloatTensor()
    {
        var t = TensorJson.ReadTensor("""{"dtype": "float32", "shape": [2, 3], "data": [1, 2.5, -3, 0.1, 1e-3, 7]}""", "x");
        Assert.Equal(DataType.Float32, t.Type);
        Assert.Equal([2, 3], t.ShapeArray());
        Assert.Equal([1f, 2.5f, -3f, 0.1f, 1e-3f, 7f], (float[])t.Data);
    }

    [Fact]
    public void NestedDataEqualsFlatData()
    {
        var flat = TensorJson.ReadTensor("""{"dtype": "int64", "shape": [2, 2, 2], "data": [1, 2, 3, 4, 5, 6, 7, 8]}""");
        var nested = TensorJson.ReadTensor("""{"shape": [2, 2, 2], "data": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]], "dtype": "int64"}""");
        Assert.Equal((long[])flat.Data, (long[])nested.Data);
        Assert.Equal(TensorEncoding.Hash(flat), TensorEncoding.Hash(nested));
    }

    [Fact]
    public void ReadsScalarsBoolsAndEmptyTensors()
    {
        var scalar = TensorJson.ReadTensor("""{"dtype": "float64", "shape": [], "data": 2.5}""");
        Assert.Equal(0, scalar.Rank);
        Assert.Equal(2.5, ((double[])scalar.Data)[0]);
        var scalarArray = TensorJson.ReadTensor("""{"dtype": "float64", "shape": [], "data": [2.5]}""");
        Assert.Equal(2.5, ((double[])scalarArray.Data)[0]);
        var flags = TensorJson.ReadTensor("""{"dtype": "bool", "shape": [3], "data": [true, false, true]}""");
        Assert.Equal([true, false, true], (bool[])flags.Data);
        var empty = TensorJson.ReadTensor("""{"dtype": "int32", "shape": [0, 4], "data": []}""");
        Assert.Equal(0, empty.Length);
        Assert.Equal([0, 4], empty.ShapeArray());
    }

    [Fact]
    public void SpecialFloatsRoundTrip()
    {
        var t = Tensor.Create([5], new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, float.Epsilon });
        string json = TensorJson.ToJson(t);
        Assert.Contains("\"NaN\"", json);
        Assert.Contains("\"Infinity\"", json);
        Assert.Contains("\"-Infinity\"", json);
        var back = TensorJson.ReadTensor(json);
        Assert.Equal(0x7FC00000, BitConverter.SingleToInt32Bits(((float[])back.Data)[0]));
        ((float[])t.Data)[0] = TensorJson.CanonicalNaN;
        Assert.Equal(TensorEncoding.Hash(t), TensorEncoding.Hash(back));
        Assert.True(float.IsNegative(((float[])back.Data)[3]));
    }

    [Fact]
    public void RandomFloatBitPatternsRoundTripBitExactly()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var floats = new float[4000];
        var doubles = new double[4000];
        for (int i = 0; i < floats.Length; i++)
        {
            floats[i] = BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next() << 1));
            doubles[i] = BitConverter.Int64BitsToDouble(rng.NextInt64() ^ (rng.NextInt64() << 1));
            if (float.IsNaN(floats[i]))
            {
                floats[i] = TensorJson.CanonicalNaN; // only the canonical NaN is representable in JSON
            }
            if (double.IsNaN(doubles[i]))
            {
                doubles[i] = TensorJson.CanonicalNaN64;
            }
        }
        foreach (var t in new[] { Tensor.Create([40, 100], floats), Tensor.Create([4000], doubles) })
        {
            var back = TensorJson.ReadTensor(TensorJson.ToJson(t));
            Assert.True(t.Bytes().SequenceEqual(back.Bytes()), $"{t} did not round-trip bit-exactly (seed {seed})");
        }
    }

    [Fact]
    public void AllIntegerTypesRoundTripAtTheirLimits()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["i8"] = Tensor.Create([2], new sbyte[] { sbyte.MinValue, sbyte.MaxValue }),
            ["u8"] = Tensor.Create([2], new byte[] { 0, byte.MaxValue }),
            ["i16"] = Tensor.Create([2], new short[] { short.MinValue, short.MaxValue }),
            ["u16"] = Tensor.Create([2], new ushort[] { 0, ushort.MaxValue }),
            ["i32"] = Tensor.Create([2], new[] { int.MinValue, int.MaxValue }),
            ["u32"] = Tensor.Create([2], new[] { 0u, uint.MaxValue }),
            ["i64"] = Tensor.Create([2], new[] { long.MinValue, long.MaxValue }),
            ["u64"] = Tensor.Create([2], new[] { 0ul, ulong.MaxValue }),
            ["b"] = Tensor.Create([1, 2], new[] { true, false }),
        };
        var back = TensorJson.ReadNamedTensors(TensorJson.WriteNamedTensors(tensors));
        Assert.Equal(TensorEncoding.Hash(tensors), TensorEncoding.Hash(back));
    }

    [Fact]
    public void ReadsRequestFilesAndIgnoresOtherTopLevelProperties()
    {
        var inputs = TensorJson.ReadNamedTensors("""
            // comments and trailing commas are allowed for hand-written files
            {"note": {"anything": [1, 2]}, "inputs": {
              "a": {"dtype": "float32", "shape": [1], "data": [1]},
              "b": {"dtype": "uint8", "shape": [2], "data": [0, 255],},
            }}
            """);
        Assert.Equal(["a", "b"], inputs.Keys.Order().ToArray());
    }

    [Theory]
    [InlineData("""{"dtype": "float32", "shape": [1, 784], "data": [1, 2]}""", "tensor 'x': shape [1, 784] needs 784 elements but \"data\" has 2")]
    [InlineData("""{"dtype": "float32", "shape": [2], "data": [1, 2, 3]}""", "tensor 'x': shape [2] needs 2 elements but \"data\" has 3")]
    [InlineData("""{"dtype": "float33", "shape": [1], "data": [1]}""", "tensor 'x': has unknown dtype \"float33\"")]
    [InlineData("""{"dtype": "uint8", "shape": [2], "data": [1, 256]}""", "tensor 'x': element 1 (256) is out of range for uint8 (0 to 255)")]
    [InlineData("""{"dtype": "int8", "shape": [1], "data": [-129]}""", "out of range for int8")]
    [InlineData("""{"dtype": "int64", "shape": [1], "data": [9223372036854775808]}""", "out of range for int64")]
    [InlineData("""{"dtype": "int32", "shape": [1], "data": [1.5]}""", "is not an integer")]
    [InlineData("""{"dtype": "float32", "shape": [1], "data": [1e39]}""", "out of range for float32")]
    [InlineData("""{"dtype": "float32", "shape": [-1], "data": []}""", "\"shape\" entry 0 is negative")]
    [InlineData("""{"dtype": "float32", "shape": [65536, 65536], "data": []}""", "has more than 2147483647 elements")]
    [InlineData("""{"dtype": "float32", "shape": [4294967296], "data": []}""", "\"shape\" entry 0 is 4294967296")]
    [InlineData("""{"dtype": "float32", "shape": [2, 2], "data": [[1, 2], [3]]}""", "\"data\"[1] has 1 entries but dimension 1 of shape [2, 2] is 2")]
    [InlineData("""{"dtype": "float32", "shape": [2, 2], "data": [[1, 2], 3]}""", "\"data\"[1] should be an array")]
    [InlineData("""{"dtype": "float32", "shape": [2, 1], "data": [[[1]], [[2]]]}""", "nested deeper")]
    [InlineData("""{"dtype": "bool", "shape": [1], "data": [1]}""", "should be true or false")]
    [InlineData("""{"dtype": "float32", "shape": [1], "data": ["nan"]}""", "should be a number, \"NaN\"")]
    [InlineData("""{"dtype": "float32", "shape": [1]}""", "tensor 'x': has no \"data\"")]
    [InlineData("""{"shape": [1], "data": [1]}""", "tensor 'x': has no \"dtype\"")]
    [InlineData("""{"dtype": "float32", "data": [1]}""", "tensor 'x': has no \"shape\"")]
    [InlineData("""{"dtype": "float32", "shape": [1], "data": [1], "dtpye": 1}""", "unknown property \"dtpye\"")]
    [InlineData("""{"dtype": "float32", "shape": [1], "data": [1]""", "invalid JSON (line 1, byte 47)")]
    [InlineData("""{"dtype": "float32", "shape": [1], "data": [1,]] }""", "invalid JSON")]
    [InlineData("""[1, 2]""", "tensor 'x': should be an object")]
    [InlineData("""{"dtype": "float32", "shape": [1], "data": [1]} 5""", "invalid JSON")]
    [InlineData("""{"dtype": "string", "shape": [1], "data": ["a"]}""", "unknown dtype \"string\"")]
    public void MalformedTensorsGiveClearMessages(string json, string expected)
    {
        var ex = Assert.Throws<TensorFormatException>(() => TensorJson.ReadTensor(json, "x"));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void AbsurdShapeWithTinyDataDoesNotAllocateTheShape()
    {
        // 2^31 - 1 float64 elements would be 16 GiB; the reader must fail on the data, not allocate.
        var ex = Assert.Throws<TensorFormatException>(() =>
            TensorJson.ReadTensor("""{"dtype": "float64", "shape": [2147483647], "data": [1, 2, 3]}""", "big"));
        Assert.Contains("needs 2147483647 elements but \"data\" has 3", ex.Message);
    }

    [Theory]
    [InlineData("""{"inputs": 5}""", "\"inputs\" should be an object")]
    [InlineData("""{"outputs": {}}""", "has no \"inputs\" object")]
    [InlineData("""{"inputs": {"a": {"dtype": "float32", "shape": [1], "data": [1]}, "a": {"dtype": "float32", "shape": [1], "data": [1]}}}""", "tensor 'a' appears twice")]
    [InlineData("""[]""", "should be a JSON object")]
    [InlineData("", "invalid JSON")]
    public void MalformedRequestsGiveClearMessages(string json, string expected)
    {
        var ex = Assert.Throws<TensorFormatException>(() => TensorJson.ReadNamedTensors(json));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void RefusesFilesOverTheSizeLimit()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, TensorJson.WriteNamedTensors(new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros(DataType.Float32, [100]) }));
            Assert.Single(TensorJson.ReadRequestFile(path));
            var ex = Assert.Throws<TensorFormatException>(() => TensorJson.ReadRequestFile(path, maxBytes: 100));
            Assert.Contains("more than the limit of 100 bytes", ex.Message);
            var missing = Assert.Throws<TensorFormatException>(() => TensorJson.ReadRequestFile(path + ".missing"));
            Assert.Contains("does not exist", missing.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FuzzedDocumentsOnlyRaiseTensorFormatException()
    {
        const int Iterations = 10_000;
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var seeds = new[]
        {
            """{"inputs": {"x": {"dtype": "float32", "shape": [2, 3], "data": [[1, 2, 3], [4, 5, "NaN"]]}, "y": {"dtype": "int8", "shape": [2], "data": [-1, 127]}}}""",
            """{"inputs": {"b": {"dtype": "bool", "shape": [], "data": true}, "u": {"dtype": "uint64", "shape": [1, 1], "data": [18446744073709551615]}}}""",
            """{"inputs": {"d": {"data": [1e308, -0, "Infinity"], "shape": [3], "dtype": "float64"}}}""",
        };
        ReadOnlySpan<string> tokens = ["{", "}", "[", "]", ",", ":", "\"", "-", "1e999", "null", "true", "\"dtype\"", "\"shape\"", "\"data\"", "\"float32\"", "\"int8\"", "[[", "]]", "99999999999", "0", "\\u0000", "\"inputs\""];
        int accepted = 0;
        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            var bytes = new List<byte>(Encoding.UTF8.GetBytes(seeds[rng.Next(seeds.Length)]));
            int mutations = 1 + rng.Next(4);
            for (int m = 0; m < mutations; m++)
            {
                int at = rng.Next(bytes.Count + 1);
                switch (rng.Next(5))
                {
                    case 0 when bytes.Count > 0:
                        bytes.RemoveAt(Math.Min(at, bytes.Count - 1));
                        break;
                    case 1:
                        bytes.Insert(at, (byte)rng.Next(256));
                        break;
                    case 2:
                        bytes.InsertRange(at, Encoding.UTF8.GetBytes(tokens[rng.Next(tokens.Length)]));
                        break;
                    case 3 when bytes.Count > 0:
                        bytes[Math.Min(at, bytes.Count - 1)] = (byte)rng.Next(32, 127);
                        break;
                    default:
                        bytes.RemoveRange(Math.Min(at, bytes.Count), Math.Min(rng.Next(8), bytes.Count - Math.Min(at, bytes.Count)));
                        break;
                }
            }
            if (iteration % 10 == 0)
            {
                // Plain random bytes as well.
                bytes = [.. Enumerable.Range(0, rng.Next(64)).Select(_ => (byte)rng.Next(256))];
            }
            try
            {
                TensorJson.ReadNamedTensors(bytes.ToArray());
                accepted++;
            }
            catch (TensorFormatException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, iteration {iteration}: {ex.GetType().Name}: {ex.Message}\ninput: {Encoding.UTF8.GetString(bytes.ToArray())}");
            }
        }
        output.WriteLine($"{accepted} of {Iterations} mutated documents were still valid");
    }
}
