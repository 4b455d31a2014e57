using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// ONNX Gemm (opsets 1–13): Y = alpha · op(A) · op(B) + beta · C, with C unidirectionally broadcast
/// to [M, N]. Arithmetic: the <see cref="Sgemm"/> fma chain, then t = alpha · t (when alpha ≠ 1),
/// then t = t + beta · C (when C is given and beta ≠ 0; the product is skipped when beta = 1).
/// As prova.internal FusedGemm it then applies the <see cref="FusedActivation"/> of its attribute.
/// </summary>
internal sealed unsafe class GemmKernel : Kernel
{
    private readonly Sgemm _gemm = new();
    private readonly float _alpha;
    private readonly float _beta;
    private readonly bool _transA;
    private readonly bool _transB;
    private int _m;
    private int _n;
    private int _k;
    private bool _useC;
    private nint _cRowStride;
    private nint _cColStride;
    private PackedMatrix? _packed;
    private bool _packAtRun;
    private readonly bool _relu;

    public GemmKernel(OnnxNode node, bool fused = false) : base(node)
    {
        _relu = fused && FusedActivation.ReadRelu(node);
        _alpha = node.GetFloat("alpha", 1f);
        _beta = node.GetFloat("beta", 1f);
        _transA = node.GetInt("transA", 0) != 0;
        _transB = node.GetInt("transB", 0) != 0;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        ctx.ExpectType(1, DataType.Float32);
        var a = ctx.InputShape(0);
        var b = ctx.InputShape(1);
        if (a.Length != 2 || b.Length != 2)
        {
            throw ModelException.ForNode(Node, $"A and B must be 2-D: {Shapes.Format(a)} x {Shapes.Format(b)}");
        }
        _m = _transA ? a[1] : a[0];
        _k = _transA ? a[0] : a[1];
        int kb = _transB ? b[1] : b[0];
        _n = _transB ? b[0] : b[1];
        if (_k != kb)
        {
            throw ModelException.ForNode(Node, $"inner dims differ: {Shapes.Format(a)}{(_transA ? "ᵀ" : "")} x {Shapes.Format(b)}{(_transB ? "ᵀ" : "")}");
        }
        _useC = false;
        if (ctx.HasInput(2))
        {
            ctx.ExpectType(2, DataType.Float32);
            var c = ctx.InputShape(2);
            int cm = c.Length == 2 ? c[0] : 1;
            int cn = c.Length >= 1 ? c[^1] : 1;
            if (c.Length > 2 || (cm != 1 && cm != _m) || (cn != 1 && cn != _n))
            {
                throw ModelException.ForNode(Node, $"C of shape {Shapes.Format(c)} cannot be broadcast to [{_m}, {_n}]");
            }
            _useC = _beta != 0f;
            _cRowStride = cm == 1 ? 0 : cn;
            _cColStride = cn == 1 ? 0 : 1;
        }
        ctx.SetOutput(0, DataType.Float32, [_m, _n]);
        nint strideK = _transB ? 1 : _n;
        nint strideN = _transB ? _k : 1;
        if (ctx.Constant(1) is { } bConst)
        {
            _packed = ctx.Constants.GetOrAdd(bConst, $"sgemm-panels:{_k}x{_n}:{strideK},{strideN}",
                () => PackedMatrix.FromArray((float[])bConst.Data, 0, _k, _n, strideK, strideN));
        }
        else if (_transB)
        {
            _packAtRun = true;
            ctx.RequestScratch(Sgemm.PackedLength(_k, _n) * sizeof(float));
        }
        else
        {
            ctx.RequestScratch(Sgemm.DirectScratch(_k, _n) * sizeof(float));
        }
    }

    public override void Execute(ExecContext ctx)
    {
        float* a = ctx.In<float>(0);
        float* b = ctx.In<float>(1);
        float* y = ctx.Out<float>(0);
        var epi = new Epilogue
        {
            Alpha = _alpha,
            Beta = _beta,
            Bias = _useC ? ctx.In<float>(2) : null,
            BiasRowStride = _cRowStride,
            BiasColStride = _cColStride,
            Relu = _relu,
        };
        PanelSource src;
        if (_packed is not null)
        {
            src = _packed.Source;
        }
        else if (_packAtRun)
        {
            float* dest = (float*)ctx.Scratch;
            Sgemm.Pack(b, _k, _n, 1, _k, dest);
            src = new PanelSource { Ptr = dest, PanelStride = (nint)Math.Max(_k, 1) * Sgemm.Nr, Ldb = Sgemm.Nr };
        }
        else
        {
            src = Sgemm.Direct(b, _k, _n, _n, (float*)ctx.Scratch);
        }
        nint aRow = _transA ? 1 : _k;
        nint aK = _transA ? _m : 1;
        _gemm.Run(ctx.Pool, _m, _n, _k, a, aRow, aK, src, y, _n, epi);
    }
}
