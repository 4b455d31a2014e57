using BenchmarkDotNet.Attributes;
using Prova.Core;
using Prova.Runtime;

namespace Prova.Benchmarks;

/// <summary>GEMM shapes from the target MLPs and transformer block, and the ResNet/LeNet convs, at 1 and 2 threads.</summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private InferenceSession? _session;
    private Dictionary<string, Tensor> _feeds = [];

    [Params("mm 1x784x128", "mm 32x784x1024", "mm 32x1024x1024", "mm 64x256x1024", "mm 1x1024x1024", "conv 64-64 3x3 32x32", "conv 1-6 5x5 28x28", "conv dw 64 3x3 32x32")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (model, feeds, _) = Catalog.Build(Shape);
        _feeds = feeds;
        _session = new InferenceSession(model, new SessionOptions { Threads = Threads });
        _session.Run(_feeds);
    }

    [Benchmark]
    public int Run() => _session!.Run(_feeds).Count;

    [GlobalCleanup]
    public void Cleanup() => _session?.Dispose();
}

internal static class Catalog
{
    public static readonly string[] Names =
        ["mm 1x784x128", "mm 32x784x1024", "mm 32x1024x1024", "mm 64x256x1024", "mm 1x1024x1024", "conv 64-64 3x3 32x32", "conv 1-6 5x5 28x28", "conv dw 64 3x3 32x32"];

    /// <summary>The conv and pool layers of the lenet5 and resnet8 comparison models, one node each.</summary>
    public static readonly string[] Layers =
        ["b32 stem 3-32 3x3 32x32", "b32 conv 32-32 3x3 32x32", "b32 conv 32-32 3x3 s2", "b32 conv 32-32 3x3 16x16", "b32 conv 32-64 3x3 8x8",
         "b32 lenet 1-6 5x5 28x28", "b32 lenet 6-16 5x5 14x14", "b32 maxpool 6x28x28", "b32 maxpool 16x10x10", "b32 avgpool 32x32x32", "b32 pool k1s2 32x32x32", "b32 pool k1s1 6x28x28",
         "b1 stem 3-32 3x3 32x32", "b1 conv 32-32 3x3 32x32", "b1 conv 32-32 3x3 s2", "b1 conv 32-32 3x3 16x16", "b1 conv 32-32 3x3 8x8", "b1 conv 32-64 3x3 8x8"];

    public static (Prova.Onnx.OnnxModel, Dictionary<string, Tensor>, double) Build(string name) => name switch
    {
        "mm 1x784x128" => KernelModels.MatMul(1, 784, 128),
        "mm 32x784x1024" => KernelModels.MatMul(32, 784, 1024),
        "mm 32x1024x1024" => KernelModels.MatMul(32, 1024, 1024),
        "mm 64x256x1024" => KernelModels.MatMul(64, 256, 1024),
        "mm 1x1024x1024" => KernelModels.MatMul(1, 1024, 1024),
        "conv 64-64 3x3 32x32" => KernelModels.Conv(64, 64, 32, 3),
        "conv 1-6 5x5 28x28" => KernelModels.Conv(1, 6, 28, 5),
        "conv dw 64 3x3 32x32" => KernelModels.Conv(64, 64, 32, 3, group: 64),
        "b32 stem 3-32 3x3 32x32" => KernelModels.Conv(3, 32, 32, 3, batch: 32),
        "b32 conv 32-32 3x3 32x32" => KernelModels.Conv(32, 32, 32, 3, batch: 32),
        "b32 conv 32-32 3x3 s2" => KernelModels.Conv(32, 32, 32, 3, batch: 32, stride: 2),
        "b32 conv 32-32 3x3 16x16" => KernelModels.Conv(32, 32, 16, 3, batch: 32),
        "b32 conv 32-64 3x3 8x8" => KernelModels.Conv(32, 64, 8, 3, batch: 32),
        "b32 lenet 1-6 5x5 28x28" => KernelModels.Conv(1, 6, 28, 5, batch: 32),
        "b32 lenet 6-16 5x5 14x14" => KernelModels.Conv(6, 16, 14, 5, batch: 32, pad: 0),
        "b32 maxpool 6x28x28" => KernelModels.Pool("MaxPool", 32, 6, 28, 2, 2),
        "b32 maxpool 16x10x10" => KernelModels.Pool("MaxPool", 32, 16, 10, 2, 2),
        "b32 avgpool 32x32x32" => KernelModels.Pool("AveragePool", 32, 32, 32, 2, 2),
        "b32 pool k1s2 32x32x32" => KernelModels.Pool("MaxPool", 32, 32, 32, 1, 2),
        "b32 pool k1s1 6x28x28" => KernelModels.Pool("MaxPool", 32, 6, 28, 1, 1),
        "b1 stem 3-32 3x3 32x32" => KernelModels.Conv(3, 32, 32, 3),
        "b1 conv 32-32 3x3 32x32" => KernelModels.Conv(32, 32, 32, 3),
        "b1 conv 32-32 3x3 s2" => KernelModels.Conv(32, 32, 32, 3, stride: 2),
        "b1 conv 32-32 3x3 16x16" => KernelModels.Conv(32, 32, 16, 3),
        "b1 conv 32-32 3x3 8x8" => KernelModels.Conv(32, 32, 8, 3),
        "b1 conv 32-64 3x3 8x8" => KernelModels.Conv(32, 64, 8, 3),
        _ => throw new ArgumentException($"unknown shape '{name}'"),
    };
}
