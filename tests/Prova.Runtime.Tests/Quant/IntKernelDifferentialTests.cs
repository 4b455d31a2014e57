using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Quant;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Quant;

/// <summary>
/// The integer kernels give the same bytes with every instruction set and thread count, and match a
/// naive reference: random shapes, uint8/int8, per-tensor and per-channel zero points.
/// </summary>
[Collection("IntGemm.ForceScalar")]
public sealed class IntKernelDifferentialTests(ITestOutputHelper output)
{
    private static Dictionary<string, Tensor>[] RunAll(OnnxModel model, Dictionary<string, Tensor> inputs)
    {
        var results = new List<Dictionary<string, Tensor>>();
        foreach (bool scalar in new[] { false, true })
        {
            IntGemm.ForceScalar = scalar;
            try
            {
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
                    results.Add(session.Run(inputs));
                }
            }
            finally
            {
                IntGemm.ForceScalar = false;
            }
        }
        return [.. results];
    }

    [Fact]
    public void MatMulIntegerMatchesReferenceOnEveryPath()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (int round = 0; round < 12; round++)
        {
            int m = rng.Next(1, 70);
            int k = rng.Next(1, 90);
            int n = rng.Next(1, 50);
            bool signedA = rng.Next(2) == 0;
            var aType = signedA ? DataType.Int8 : DataType.UInt8;
            var a = signedA ? Tensor.Create([m, k], QuantKit.RandomInt8(rng, m * k, -128, 127)) : Tensor.Create([m, k], QuantKit.RandomUInt8(rng, m * k));
            var b = Tensor.Create([k, n], QuantKit.RandomInt8(rng, k * n, -128, 127));
            var azp = signedA ? Tensor.Create([m], QuantKit.RandomInt8(rng, m, -128, 127)) : Tensor.Create([m], QuantKit.RandomUInt8(rng, m));
            var bzp = Tensor.Create([n], QuantKit.RandomInt8(rng, n, -128, 127));
            var g = new OnnxGraph { Name = "mmi" };
            g.Inputs.Add(QuantKit.Info("a", aType, m, k));
            g.Outputs.Add(QuantKit.Info("y", DataType.Int32, m, n));
            bool constB = rng.Next(2) == 0;
            if (constB)
            {
                g.Initializers["b"] = b;
            }
            else
            {
                g.Inputs.Add(QuantKit.Info("b", DataType.Int8, k, n));
            }
            g.Initializers["azp"] = azp;
            g.Initializers["bzp"] = bzp;
            g.Nodes.Add(QuantKit.Node("MatMulInteger", ["a", "b", "azp", "bzp"], ["y"]));
            var model = new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 13 }, Graph = g };
            var inputs = new Dictionary<string, Tensor> { ["a"] = a };
            if (!constB)
            {
                inputs["b"] = b;
            }
            var results = RunAll(model, inputs);
            var expected = new int[m * n];
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    int sum = 0;
                    for (int kk = 0; kk < k; kk++)
                    {
                        int av = signedA ? a.Span<sbyte>()[i * k + kk] - azp.Span<sbyte>()[i] : a.Span<byte>()[i * k + kk] - azp.Span<byte>()[i];
                        sum += av * (b.Span<sbyte>()[kk * n + j] - bzp.Span<sbyte>()[j]);
                    }
                    expected[i * n + j] = sum;
                }
            }
            foreach (var r in results)
            {
                Assert.Equal(expected, r["y"].Span<int>().ToArray());
            }
        }
    }

    [Fact]
    public void QLinearConvIsIdenticalOnEveryPath()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (int round = 0; round < 8; round++)
        {
            int group = rng.Next(1, 3);
            int c = group * rng.Next(1, 5);
            int mOut = group * rng.Next(1, 20);
            int h = rng.Next(3, 14);
            int w = rng.Next(3, 14);
            int kh = rng.Next(1, 4);
            int kw = rng.Next(1, 4);
            int batch = rng.Next(1, 3);
            var x = Tensor.Create([batch, c, h, w], QuantKit.RandomUInt8(rng, batch * c * h * w));
            var wt = Tensor.Create([mOut, c / group, kh, kw], QuantKit.RandomInt8(rng, mOut * (c / group) * kh * kw));
            var g = new OnnxGraph { Name = "qconv" };
            g.Inputs.Add(QuantKit.Info("x", DataType.UInt8, batch, c, h, w));
            g.Initializers["w"] = wt;
            g.Initializers["xs"] = QuantKit.Scalar(0.02f);
            g.Initializers["xz"] = QuantKit.Scalar((byte)rng.Next(256));
            g.Initializers["ws"] = Tensor.Create([mOut], Enumerable.Range(0, mOut).Select(_ => 0.001f + (float)rng.NextDouble() * 0.01f).ToArray());
            g.Initializers["wz"] = Tensor.Create([mOut], new sbyte[mOut]);
            g.Initializers["ys"] = QuantKit.Scalar(0.05f + (float)rng.NextDouble() * 0.1f);
            g.Initializers["yz"] = QuantKit.Scalar((byte)rng.Next(256));
            g.Initializers["bias"] = Tensor.Create([mOut], Enumerable.Range(0, mOut).Select(_ => rng.Next(-5000, 5000)).ToArray());
            g.Outputs.Add(new ValueInfo { Name = "y", ElementType = DataType.UInt8 });
            g.Nodes.Add(QuantKit.Node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"], ["y"],
                QuantKit.Int("group", group),
                new OnnxAttribute { Name = "pads", Kind = AttributeKind.Ints, Ints = [1, 0, 1, 1] },
                new OnnxAttribute { Name = "strides", Kind = AttributeKind.Ints, Ints = [rng.Next(1, 3), 1] }));
            var model = new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 13 }, Graph = g };
            var results = RunAll(model, new Dictionary<string, Tensor> { ["x"] = x });
            var first = results[0]["y"].Bytes().ToArray();
            Assert.Contains(first, v => v != first[0]);
            foreach (var r in results)
            {
                Assert.Equal(first, r["y"].Bytes().ToArray());
            }
        }
    }
}
