using System.Buffers.Binary;
using System.IO.Compression;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Quantization;
using Prova.Runtime.Tests.Conformance;

namespace Prova.Runtime.Tests.Quantization;

/// <summary>
/// The committed Fashion-MNIST models (models/, trained by tools/Prova.Trainer) keep the test accuracy
/// docs/benchmarks.md reports, measured with Prova on all 10,000 test images of Debian's
/// dataset-fashion-mnist (scripts/setup.sh installs it).
/// </summary>
public class FashionModelTests
{
    private const string DataDir = "/usr/share/datasets/fashion-mnist";

    private static readonly Lazy<(Tensor Images, byte[] Labels)> s_test = new(LoadTestSet);

    [Theory]
    [InlineData("fashion-mlp.onnx", 0.880)]
    [InlineData("fashion-cnn.onnx", 0.890)]
    public void FloatModelReachesItsDocumentedAccuracy(string file, double threshold)
    {
        var model = OnnxLoader.Load(Path.Combine(RepoFiles.Root, "models", file));
        double accuracy = Accuracy(new InferenceSession(model, new SessionOptions { Threads = 2 }));
        Assert.True(accuracy >= threshold, $"{file}: test accuracy {accuracy:P2} < {threshold:P1}");
    }

    /// <summary>
    /// The int8 models run in Prova's engine when it has the QDQ kernels; otherwise (until they land)
    /// as their exact-rounding float simulation (<see cref="QdqSimulation"/>). The first 2,000 test
    /// images keep the test fast (int8 88.35 % MLP, 90.45 % CNN on them under ONNX Runtime).
    /// </summary>
    [Theory]
    [InlineData("fashion-mlp.int8.onnx", 0.875)]
    [InlineData("fashion-cnn.int8.onnx", 0.885)]
    public void Int8ModelReachesItsDocumentedAccuracy(string file, double threshold)
    {
        var model = OnnxLoader.Load(Path.Combine(RepoFiles.Root, "models", file));
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        InferenceSession session;
        try
        {
            session = new InferenceSession(model, new SessionOptions { Threads = 2 });
        }
        catch (ModelException ex) when (ex.IsUnsupported)
        {
            session = new InferenceSession(QdqSimulation.Lower(model), new SessionOptions { Threads = 2 });
        }
        double accuracy = Accuracy(session, 2000);
        Assert.True(accuracy >= threshold, $"{file}: accuracy on the first 2000 test images {accuracy:P2} < {threshold:P1}");
    }

    private static double Accuracy(InferenceSession session, int count = 10_000)
    {
        using (session)
        {
            var (all, allLabels) = s_test.Value;
            var images = Tensor.Create([count, 1, 28, 28], ((float[])all.Data)[..(count * 784)]);
            var labels = allLabels[..count];
            var predictions = Top1.Predictions(session.Run(new Dictionary<string, Tensor> { ["image"] = images })["logits"]);
            Assert.Equal(labels.Length, predictions.Length);
            int correct = 0;
            for (int i = 0; i < labels.Length; i++)
            {
                correct += predictions[i] == labels[i] ? 1 : 0;
            }
            return (double)correct / labels.Length;
        }
    }

    private static (Tensor, byte[]) LoadTestSet()
    {
        var pixels = ReadIdx(Path.Combine(DataDir, "t10k-images-idx3-ubyte.gz"), 3);
        var labels = ReadIdx(Path.Combine(DataDir, "t10k-labels-idx1-ubyte.gz"), 1);
        Assert.Equal(labels.Length * 784, pixels.Length);
        var images = new float[pixels.Length];
        for (int i = 0; i < images.Length; i++)
        {
            images[i] = pixels[i] / 255f;
        }
        return (Tensor.Create([labels.Length, 1, 28, 28], images), labels);
    }

    /// <summary>An unsigned-byte IDX file (gzip): magic 0x0000 08 RR, RR big-endian int32 dims, data.</summary>
    private static byte[] ReadIdx(string path, int rank)
    {
        Assert.True(File.Exists(path), $"{path} is missing: install Debian's dataset-fashion-mnist (scripts/setup.sh)");
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        var header = new byte[4 + 4 * rank];
        gzip.ReadExactly(header);
        Assert.Equal(0x0800 | rank, BinaryPrimitives.ReadInt32BigEndian(header));
        int count = 1;
        for (int i = 0; i < rank; i++)
        {
            count *= BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + 4 * i));
        }
        var data = new byte[count];
        gzip.ReadExactly(data);
        return data;
    }
}
