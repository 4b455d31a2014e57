using Prova.Core;
using Prova.Onnx;

namespace Prova.Trainer;

/// <summary>784-128-10 MLP: Flatten → Gemm → Relu → Gemm.</summary>
internal sealed class Mlp : Network
{
    private const int In = DataSet.Pixels;
    private const int Hidden = 128;
    private const int OffW1 = 0;
    private const int OffB1 = OffW1 + Hidden * In;
    private const int OffW2 = OffB1 + Hidden;
    private const int OffB2 = OffW2 + Classes * Hidden;
    private const int Count = OffB2 + Classes;

    public Mlp()
    {
        Params = new float[Count];
    }

    public override string Name => "mlp";

    public override string Description => "784-128-10 MLP";

    private sealed class Ws : Workspace
    {
        public float[] H { get; } = new float[Hidden];

        public float[] DH { get; } = new float[Hidden];
    }

    public override Workspace NewWorkspace() => new Ws();

    public override void Init(Random random)
    {
        HeNormal(random, Params.AsSpan(OffW1, Hidden * In), In);
        HeNormal(random, Params.AsSpan(OffW2, Classes * Hidden), Hidden);
    }

    public override void Forward(ReadOnlySpan<float> image, Workspace workspace)
    {
        var ws = (Ws)workspace;
        var p = Params.AsSpan();
        for (int j = 0; j < Hidden; j++)
        {
            ws.H[j] = MathF.Max(0, p[OffB1 + j] + Blas.Dot(p.Slice(OffW1 + j * In, In), image));
        }
        for (int k = 0; k < Classes; k++)
        {
            ws.Logits[k] = p[OffB2 + k] + Blas.Dot(p.Slice(OffW2 + k * Hidden, Hidden), ws.H);
        }
    }

    public override float Backward(ReadOnlySpan<float> image, int label, Span<float> grad, Workspace workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        float loss = Blas.SoftmaxCrossEntropy(ws.Logits, label, ws.DLogits);
        var p = Params.AsSpan();
        Array.Clear(ws.DH);
        for (int k = 0; k < Classes; k++)
        {
            float d = ws.DLogits[k];
            grad[OffB2 + k] += d;
            Blas.Axpy(d, ws.H, grad.Slice(OffW2 + k * Hidden, Hidden));
            Blas.Axpy(d, p.Slice(OffW2 + k * Hidden, Hidden), ws.DH);
        }
        for (int j = 0; j < Hidden; j++)
        {
            if (ws.H[j] > 0)
            {
                float d = ws.DH[j];
                grad[OffB1 + j] += d;
                Blas.Axpy(d, image, grad.Slice(OffW1 + j * In, In));
            }
        }
        return loss;
    }

    public override OnnxModel Export(IReadOnlyDictionary<string, string> metadata)
    {
        var b = new ModelBuilder(opset: 17, graphName: "fashion_mlp");
        foreach (var (key, value) in metadata)
        {
            b.Metadata(key, value);
        }
        var x = b.Input("image", DataType.Float32, -1, 1, 28, 28);
        var flat = b.Node("Flatten", [x], [("axis", 1)], name: "flatten");
        var w1 = b.Initializer("fc1.weight", Tensor.Create([Hidden, In], Params[OffW1..OffB1]));
        var b1 = b.Initializer("fc1.bias", Tensor.Create([Hidden], Params[OffB1..OffW2]));
        var h = b.Node("Gemm", [flat, w1, b1], [("transB", 1)], name: "fc1");
        var a = b.Node("Relu", [h], name: "relu1");
        var w2 = b.Initializer("fc2.weight", Tensor.Create([Classes, Hidden], Params[OffW2..OffB2]));
        var b2 = b.Initializer("fc2.bias", Tensor.Create([Classes], Params[OffB2..Count]));
        var z = b.Node("Gemm", [a, w2, b2], [("transB", 1)], name: "fc2");
        b.Output(z, "logits", DataType.Float32, [-1, Classes]);
        return b.Build();
    }
}
