using Microsoft.Extensions.Logging;
using Prova.Core;
using Prova.Core.Keys;
using Prova.Node.Hosting;
using Prova.Node.Testing;
using Prova.Onnx;

namespace Prova.Sdk.Tests;

/// <summary>A real node on 127.0.0.1 (Kestrel, random port, temporary data directory), shared by a test class.</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    public string DataDir { get; } = Directory.CreateTempSubdirectory("prova-sdk-node-").FullName;

    public NodeHost Node { get; private set; } = null!;

    public PrivateKey Owner { get; } = PrivateKey.Generate();

    public ProvaClient Client(ProvaClientOptions? options = null) => new(Node.Url, options);

    public async Task InitializeAsync()
    {
        Node = await NodeHost.StartAsync(new NodeOptions
        {
            DataDir = DataDir,
            Listen = "127.0.0.1:0",
            KeyPassword = "test",
        }, s => s.AddLightKeystore(), LogLevel.Warning);
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A temporary directory removed after the test.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("prova-sdk-tests-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class TestModels
{
    /// <summary>MLP x[1, inputs] → Gemm → Relu → Gemm → y[1, 10], seeded weights.</summary>
    public static OnnxModel Mlp(int inputs = 64, int hidden = 32, int seed = 1)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17, graphName: "mlp");
        var x = b.Input("x", DataType.Float32, 1, inputs);
        var w1 = b.Initializer("w1", Tensor.Create([hidden, inputs], Uniform(rng, hidden * inputs)));
        var b1 = b.Initializer("b1", Tensor.Create([hidden], Uniform(rng, hidden)));
        var h = b.Node("Relu", [b.Node("Gemm", [x, w1, b1], [("transB", 1L)])]);
        var w2 = b.Initializer("w2", Tensor.Create([10, hidden], Uniform(rng, 10 * hidden)));
        var b2 = b.Initializer("b2", Tensor.Create([10], Uniform(rng, 10)));
        b.Output(b.Node("Gemm", [h, w2, b2], [("transB", 1L)]), "y", DataType.Float32, [1, 10]);
        return b.Build();
    }

    public static string Write(OnnxModel model, TempDir dir, string name = "model.onnx")
    {
        string path = dir.File(name);
        System.IO.File.WriteAllBytes(path, OnnxWriter.Write(model));
        return path;
    }

    public static Dictionary<string, Tensor> Input(int inputs = 64, int seed = 7) =>
        new() { ["x"] = Tensor.Create([1, inputs], Uniform(new Random(seed), inputs)) };

    public static float[] Uniform(Random rng, int count)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return data;
    }
}
