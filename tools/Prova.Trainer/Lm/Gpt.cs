using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Prova.Lm.Export;

namespace Prova.Trainer.Lm;

/// <summary>
/// A GPT-2 (pre-LayerNorm blocks, causal self-attention, gelu_new MLP, lm_head tied to wte) with forward and
/// backward passes for training on batches of B sequences of T tokens. All parameters live in one flat array in
/// <see cref="Gpt2Weights"/> order (wte, wpe, per block ln_1 γ β, c_attn W b, attn c_proj W b, ln_2 γ β, c_fc W b,
/// mlp c_proj W b, then ln_f γ β); gradients mirror it.
/// Work is spread over <see cref="Gemm.Threads"/> threads by row blocks and (sequence, head) pairs only; every sum
/// has a fixed order, so a seed reproduces a run exactly on the same machine.
/// </summary>
internal sealed unsafe class Gpt : IDisposable
{
    private readonly List<nint> _blocks = [];
    private readonly Layer[] _layers;
    private readonly long _wte, _wpe, _lnfG, _lnfB;
    private readonly int _b, _t, _d, _h, _hd, _v, _bt;

    // Activations.
    private readonly float*[] _res;          // residual stream entering block l (l = 0 … L), [BT, d]
    private readonly float*[] _resMid;       // after the attention residual, [BT, d]
    private readonly float*[] _ln1, _ln1Mean, _ln1Rstd, _qkv, _att, _atty, _ln2, _ln2Mean, _ln2Rstd, _fc, _fcGelu;
    private readonly float* _lnf, _lnfMean, _lnfRstd, _probs, _losses;

    // Gradient scratch.
    private readonly float* _dres, _dln, _dqkv, _datty, _dfc, _dfcGelu;
    private readonly float* _weightT, _actT, _tmp;
    private readonly int* _inputs, _targets;

    public Gpt(Gpt2Config config, int batch, int context)
    {
        config.Validate();
        if (context > config.Positions)
        {
            throw new ArgumentException($"context {context} exceeds n_positions {config.Positions}");
        }
        Config = config;
        _b = batch;
        _t = context;
        _d = config.Embd;
        _h = config.Heads;
        _hd = config.HeadDim;
        _v = config.Vocab;
        _bt = batch * context;
        int d = _d;
        long offset = 0;
        _wte = offset;
        offset += (long)_v * d;
        _wpe = offset;
        offset += (long)config.Positions * d;
        _layers = new Layer[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            var layer = new Layer();
            layer.Ln1G = offset; offset += d;
            layer.Ln1B = offset; offset += d;
            layer.AttnW = offset; offset += 3L * d * d;
            layer.AttnB = offset; offset += 3L * d;
            layer.ProjW = offset; offset += (long)d * d;
            layer.ProjB = offset; offset += d;
            layer.Ln2G = offset; offset += d;
            layer.Ln2B = offset; offset += d;
            layer.FcW = offset; offset += 4L * d * d;
            layer.FcB = offset; offset += 4L * d;
            layer.FcProjW = offset; offset += 4L * d * d;
            layer.FcProjB = offset; offset += d;
            _layers[l] = layer;
        }
        _lnfG = offset; offset += d;
        _lnfB = offset; offset += d;
        ParamCount = offset;
        Params = Alloc(offset);
        Grads = Alloc(offset);

        int layers = config.Layers;
        _res = new float*[layers + 1];
        for (int l = 0; l <= layers; l++)
        {
            _res[l] = Alloc((long)_bt * d);
        }
        _resMid = Many(layers, (long)_bt * d);
        _ln1 = Many(layers, (long)_bt * d);
        _ln1Mean = Many(layers, _bt);
        _ln1Rstd = Many(layers, _bt);
        _qkv = Many(layers, 3L * _bt * d);
        _att = Many(layers, (long)batch * _h * context * context);
        _atty = Many(layers, (long)_bt * d);
        _ln2 = Many(layers, (long)_bt * d);
        _ln2Mean = Many(layers, _bt);
        _ln2Rstd = Many(layers, _bt);
        _fc = Many(layers, 4L * _bt * d);
        _fcGelu = Many(layers, 4L * _bt * d);
        _lnf = Alloc((long)_bt * d);
        _lnfMean = Alloc(_bt);
        _lnfRstd = Alloc(_bt);
        _probs = Alloc((long)_bt * _v);
        _losses = Alloc(_bt);
        _dres = Alloc((long)_bt * d);
        _dln = Alloc((long)_bt * d);
        _dqkv = Alloc(3L * _bt * d);
        _datty = Alloc((long)_bt * d);
        _dfc = Alloc(4L * _bt * d);
        _dfcGelu = Alloc(4L * _bt * d);
        _weightT = Alloc(Math.Max(4L * d * d, (long)d * _v));
        _actT = Alloc(4L * _bt * d);
        _tmp = Alloc(4L * _bt * d);
        _inputs = (int*)Alloc(_bt);
        _targets = (int*)Alloc(_bt);
    }

    public Gpt2Config Config { get; }

    public long ParamCount { get; }

    public float* Params { get; }

    public float* Grads { get; }

    public int Batch => _b;

    public int Context => _t;

    /// <summary>Whether parameter i is a matrix (embeddings and Conv1D weights; AdamW decays only those).</summary>
    public bool[] DecayMask()
    {
        var mask = new bool[ParamCount];
        Array.Fill(mask, true, (int)_wte, (int)(_lnfG - _wte));
        foreach (var l in _layers)
        {
            Clear(mask, l.Ln1G, 2L * _d);
            Clear(mask, l.AttnB, 3L * _d);
            Clear(mask, l.ProjB, 3L * _d);          // proj bias, ln_2 γ β
            Clear(mask, l.FcB, 4L * _d);
            Clear(mask, l.FcProjB, _d);
        }
        return mask;

        static void Clear(bool[] mask, long at, long count) => Array.Fill(mask, false, (int)at, (int)count);
    }

    /// <summary>Copies parameters from Hugging Face-layout weights.</summary>
    public void Load(Gpt2Weights w)
    {
        w.Validate(Config);
        Put(_wte, w.Wte);
        Put(_wpe, w.Wpe);
        for (int l = 0; l < _layers.Length; l++)
        {
            var s = w.Layers[l];
            var o = _layers[l];
            Put(o.Ln1G, s.Ln1Gamma); Put(o.Ln1B, s.Ln1Beta); Put(o.AttnW, s.AttnW); Put(o.AttnB, s.AttnB);
            Put(o.ProjW, s.AttnProjW); Put(o.ProjB, s.AttnProjB); Put(o.Ln2G, s.Ln2Gamma); Put(o.Ln2B, s.Ln2Beta);
            Put(o.FcW, s.FcW); Put(o.FcB, s.FcB); Put(o.FcProjW, s.FcProjW); Put(o.FcProjB, s.FcProjB);
        }
        Put(_lnfG, w.LnFGamma);
        Put(_lnfB, w.LnFBeta);
    }

    /// <summary>The parameters as Hugging Face-layout weights (copies), from <paramref name="source"/> (default: the live parameters).</summary>
    public Gpt2Weights Export(float[]? source = null)
    {
        var w = Gpt2Weights.Zeros(Config);
        fixed (float* src = source)
        {
            float* p = source is null ? Params : src;
            Get(p, _wte, w.Wte);
            Get(p, _wpe, w.Wpe);
            for (int l = 0; l < _layers.Length; l++)
            {
                var s = w.Layers[l];
                var o = _layers[l];
                Get(p, o.Ln1G, s.Ln1Gamma); Get(p, o.Ln1B, s.Ln1Beta); Get(p, o.AttnW, s.AttnW); Get(p, o.AttnB, s.AttnB);
                Get(p, o.ProjW, s.AttnProjW); Get(p, o.ProjB, s.AttnProjB); Get(p, o.Ln2G, s.Ln2Gamma); Get(p, o.Ln2B, s.Ln2Beta);
                Get(p, o.FcW, s.FcW); Get(p, o.FcB, s.FcB); Get(p, o.FcProjW, s.FcProjW); Get(p, o.FcProjB, s.FcProjB);
            }
            Get(p, _lnfG, w.LnFGamma);
            Get(p, _lnfB, w.LnFBeta);
        }
        return w;
    }

    /// <summary>Softmax probabilities of the last forward pass, [B·T, V].</summary>
    public ReadOnlySpan<float> Probabilities => new(_probs, _bt * _v);

    /// <summary>
    /// Forward pass over <paramref name="inputs"/> (B·T token ids); with <paramref name="targets"/> returns the
    /// mean cross-entropy (per-position losses summed in order, then divided), otherwise NaN.
    /// </summary>
    public float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets)
    {
        int d = _d, bt = _bt;
        inputs.CopyTo(new Span<int>(_inputs, bt));
        bool withTargets = targets.Length > 0;
        if (withTargets)
        {
            targets.CopyTo(new Span<int>(_targets, bt));
        }
        float* x = _res[0];
        for (int i = 0; i < bt; i++)
        {
            int id = _inputs[i];
            if ((uint)id >= (uint)_v)
            {
                throw new ArgumentException($"token id {id} outside the vocabulary of {_v}");
            }
            TensorPrimitives.Add(new ReadOnlySpan<float>(Params + _wte + (long)id * d, d), new ReadOnlySpan<float>(Params + _wpe + (long)(i % _t) * d, d), new Span<float>(x + (long)i * d, d));
        }
        for (int l = 0; l < _layers.Length; l++)
        {
            var o = _layers[l];
            LayerNorm(_res[l], _ln1[l], _ln1Mean[l], _ln1Rstd[l], Params + o.Ln1G, Params + o.Ln1B);
            Linear(_ln1[l], Params + o.AttnW, Params + o.AttnB, _qkv[l], d, 3 * d);
            Attention(_qkv[l], _att[l], _atty[l]);
            Linear(_atty[l], Params + o.ProjW, Params + o.ProjB, _resMid[l], d, d);
            TensorPrimitives.Add(new ReadOnlySpan<float>(_resMid[l], bt * d), new ReadOnlySpan<float>(_res[l], bt * d), new Span<float>(_resMid[l], bt * d));
            LayerNorm(_resMid[l], _ln2[l], _ln2Mean[l], _ln2Rstd[l], Params + o.Ln2G, Params + o.Ln2B);
            Linear(_ln2[l], Params + o.FcW, Params + o.FcB, _fc[l], d, 4 * d);
            GeluForward(_fc[l], _fcGelu[l], bt * 4 * d);
            Linear(_fcGelu[l], Params + o.FcProjW, Params + o.FcProjB, _res[l + 1], 4 * d, d);
            TensorPrimitives.Add(new ReadOnlySpan<float>(_res[l + 1], bt * d), new ReadOnlySpan<float>(_resMid[l], bt * d), new Span<float>(_res[l + 1], bt * d));
        }
        LayerNorm(_res[_layers.Length], _lnf, _lnfMean, _lnfRstd, Params + _lnfG, Params + _lnfB);
        Gemm.Transpose(Params + _wte, _weightT, _v, d);
        Gemm.MatMul(_lnf, _weightT, _probs, bt, d, _v, accumulate: false);

        nint probs = (nint)_probs, losses = (nint)_losses, tgt = (nint)_targets;
        int v = _v;
        Parallel.For(0, bt, new ParallelOptions { MaxDegreeOfParallelism = Gemm.Threads }, i =>
        {
            var row = new Span<float>((float*)probs + (long)i * v, v);
            float max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp(row, row);
            float sum = TensorPrimitives.Sum(row);
            TensorPrimitives.Multiply(row, 1f / sum, row);
            if (withTargets)
            {
                ((float*)losses)[i] = -MathF.Log(MathF.Max(row[((int*)tgt)[i]], 1e-30f));
            }
        });
        if (!withTargets)
        {
            return float.NaN;
        }
        double total = 0;
        for (int i = 0; i < bt; i++)
        {
            total += _losses[i];
        }
        return (float)(total / bt);
    }

    /// <summary>Accumulates the gradient of the last forward pass's mean loss into <see cref="Grads"/>.</summary>
    public void Backward()
    {
        int d = _d, bt = _bt, v = _v;
        // dlogits = (p - onehot) / BT, in place.
        float inv = 1f / bt;
        TensorPrimitives.Multiply(new ReadOnlySpan<float>(_probs, bt * v), inv, new Span<float>(_probs, bt * v));
        for (int i = 0; i < bt; i++)
        {
            _probs[(long)i * v + _targets[i]] -= inv;
        }
        // lm_head: dlnf = dlogits · wte; dwteᵀ = lnfᵀ · dlogits.
        Gemm.MatMul(_probs, Params + _wte, _dln, bt, v, d, accumulate: false);
        Gemm.Transpose(_lnf, _actT, bt, d);
        Gemm.MatMul(_actT, _probs, _weightT, d, bt, v, accumulate: false);
        float* dwte = Grads + _wte;
        for (int j = 0; j < d; j++)
        {
            for (int k = 0; k < v; k++)
            {
                dwte[(long)k * d + j] += _weightT[(long)j * v + k];
            }
        }
        new Span<float>(_dres, bt * d).Clear();
        LayerNormBackward(_dln, _res[_layers.Length], _lnfMean, _lnfRstd, Params + _lnfG, Grads + _lnfG, Grads + _lnfB, _dres);

        for (int l = _layers.Length - 1; l >= 0; l--)
        {
            var o = _layers[l];
            // MLP: res[l+1] = resMid + c_proj(gelu(c_fc(ln_2(resMid)))).
            LinearBackward(_fcGelu[l], Params + o.FcProjW, _dres, _dfcGelu, Grads + o.FcProjW, Grads + o.FcProjB, 4 * d, d);
            GeluBackward(_fc[l], _dfcGelu, _dfc, bt * 4 * d);
            LinearBackward(_ln2[l], Params + o.FcW, _dfc, _dln, Grads + o.FcW, Grads + o.FcB, d, 4 * d);
            LayerNormBackward(_dln, _resMid[l], _ln2Mean[l], _ln2Rstd[l], Params + o.Ln2G, Grads + o.Ln2G, Grads + o.Ln2B, _dres);
            // Attention: resMid = res[l] + c_proj(attn(c_attn(ln_1(res[l])))).
            LinearBackward(_atty[l], Params + o.ProjW, _dres, _datty, Grads + o.ProjW, Grads + o.ProjB, d, d);
            AttentionBackward(_qkv[l], _att[l], _datty, _dqkv);
            LinearBackward(_ln1[l], Params + o.AttnW, _dqkv, _dln, Grads + o.AttnW, Grads + o.AttnB, d, 3 * d);
            LayerNormBackward(_dln, _res[l], _ln1Mean[l], _ln1Rstd[l], Params + o.Ln1G, Grads + o.Ln1G, Grads + o.Ln1B, _dres);
        }
        for (int i = 0; i < bt; i++)
        {
            var g = new ReadOnlySpan<float>(_dres + (long)i * d, d);
            var we = new Span<float>(Grads + _wte + (long)_inputs[i] * d, d);
            TensorPrimitives.Add(we, g, we);
            var pe = new Span<float>(Grads + _wpe + (long)(i % _t) * d, d);
            TensorPrimitives.Add(pe, g, pe);
        }
    }

    /// <summary>Cross-entropy at position i of the last forward pass with targets.</summary>
    public float LossAt(int i) => _losses[i];

    public void ZeroGrad() => new Span<float>(Grads, checked((int)ParamCount)).Clear();

    public void Dispose()
    {
        foreach (nint p in _blocks)
        {
            NativeMemory.AlignedFree((void*)p);
        }
        _blocks.Clear();
    }

    private void Linear(float* input, float* w, float* bias, float* output, int k, int n)
    {
        Gemm.MatMul(input, w, output, _bt, k, n, accumulate: false);
        var b = new ReadOnlySpan<float>(bias, n);
        for (int i = 0; i < _bt; i++)
        {
            var row = new Span<float>(output + (long)i * n, n);
            TensorPrimitives.Add(row, b, row);
        }
    }

    // output = input·W + b: dInput = dOut·Wᵀ, dW += inputᵀ·dOut, db += Σ rows of dOut.
    private void LinearBackward(float* input, float* w, float* dOut, float* dInput, float* dW, float* dB, int k, int n)
    {
        Gemm.Transpose(w, _weightT, k, n);
        Gemm.MatMul(dOut, _weightT, dInput, _bt, n, k, accumulate: false);
        Gemm.Transpose(input, _actT, _bt, k);
        Gemm.MatMul(_actT, dOut, dW, k, _bt, n, accumulate: true);
        var db = new Span<float>(dB, n);
        for (int i = 0; i < _bt; i++)
        {
            TensorPrimitives.Add(db, new ReadOnlySpan<float>(dOut + (long)i * n, n), db);
        }
    }

    private void LayerNorm(float* x, float* y, float* mean, float* rstd, float* gamma, float* beta)
    {
        int d = _d;
        float eps = Config.LayerNormEpsilon;
        var g = new ReadOnlySpan<float>(gamma, d);
        var b = new ReadOnlySpan<float>(beta, d);
        for (int i = 0; i < _bt; i++)
        {
            var row = new ReadOnlySpan<float>(x + (long)i * d, d);
            var o = new Span<float>(y + (long)i * d, d);
            float m = TensorPrimitives.Sum(row) / d;
            TensorPrimitives.Subtract(row, m, o);
            float var = TensorPrimitives.Dot(o, o) / d;
            float r = 1f / MathF.Sqrt(var + eps);
            TensorPrimitives.Multiply(o, r, o);
            TensorPrimitives.FusedMultiplyAdd(o, g, b, o);
            mean[i] = m;
            rstd[i] = r;
        }
    }

    // dx += rstd·(dn − mean(dn) − x̂·mean(dn·x̂)) with dn = dy·γ; dγ += dy·x̂; dβ += dy.
    private void LayerNormBackward(float* dy, float* x, float* mean, float* rstd, float* gamma, float* dGamma, float* dBeta, float* dx)
    {
        int d = _d;
        var xhat = new Span<float>(_tmp, d);
        var dn = new Span<float>(_tmp + d, d);
        var g = new ReadOnlySpan<float>(gamma, d);
        var dg = new Span<float>(dGamma, d);
        var db = new Span<float>(dBeta, d);
        for (int i = 0; i < _bt; i++)
        {
            var dyr = new ReadOnlySpan<float>(dy + (long)i * d, d);
            var dxr = new Span<float>(dx + (long)i * d, d);
            TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + (long)i * d, d), mean[i], xhat);
            TensorPrimitives.Multiply(xhat, rstd[i], xhat);
            TensorPrimitives.Multiply(dyr, g, dn);
            TensorPrimitives.FusedMultiplyAdd(dyr, xhat, dg, dg);
            TensorPrimitives.Add(db, dyr, db);
            float meanDn = TensorPrimitives.Sum(dn) / d;
            float meanDnX = TensorPrimitives.Dot(dn, xhat) / d;
            for (int j = 0; j < d; j++)
            {
                dxr[j] += rstd[i] * (dn[j] - meanDn - xhat[j] * meanDnX);
            }
        }
    }

    private void Attention(float* qkv, float* att, float* atty)
    {
        nint pq = (nint)qkv, pa = (nint)att, py = (nint)atty;
        Parallel.For(0, _b * _h, new ParallelOptions { MaxDegreeOfParallelism = Gemm.Threads }, bh => AttentionHead((float*)pq, (float*)pa, (float*)py, bh));
    }

    private void AttentionHead(float* qkv, float* att, float* atty, int bh)
    {
        int b = bh / _h, h = bh % _h, t = _t, d = _d, hd = _hd;
        float scale = 1f / MathF.Sqrt(hd);
        for (int i = 0; i < t; i++)
        {
            var q = new ReadOnlySpan<float>(qkv + (long)(b * t + i) * 3 * d + h * hd, hd);
            var row = new Span<float>(att + ((long)bh * t + i) * t, t);
            float max = float.NegativeInfinity;
            for (int j = 0; j <= i; j++)
            {
                row[j] = TensorPrimitives.Dot(q, new ReadOnlySpan<float>(qkv + (long)(b * t + j) * 3 * d + d + h * hd, hd)) * scale;
                max = MathF.Max(max, row[j]);
            }
            float sum = 0;
            for (int j = 0; j <= i; j++)
            {
                row[j] = MathF.Exp(row[j] - max);
                sum += row[j];
            }
            float invSum = 1f / sum;
            row[..(i + 1)].MultiplyInPlace(invSum);
            row[(i + 1)..].Clear();
            var y = new Span<float>(atty + (long)(b * t + i) * d + h * hd, hd);
            y.Clear();
            for (int j = 0; j <= i; j++)
            {
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(qkv + (long)(b * t + j) * 3 * d + 2 * d + h * hd, hd), row[j], y, y);
            }
        }
    }

    private void AttentionBackward(float* qkv, float* att, float* datty, float* dqkv)
    {
        new Span<float>(dqkv, _bt * 3 * _d).Clear();
        nint pq = (nint)qkv, pa = (nint)att, py = (nint)datty, pd = (nint)dqkv;
        Parallel.For(0, _b * _h, new ParallelOptions { MaxDegreeOfParallelism = Gemm.Threads }, bh => AttentionHeadBackward((float*)pq, (float*)pa, (float*)py, (float*)pd, bh));
    }

    private void AttentionHeadBackward(float* qkv, float* att, float* datty, float* dqkv, int bh)
    {
        int b = bh / _h, h = bh % _h, t = _t, d = _d, hd = _hd;
        float scale = 1f / MathF.Sqrt(hd);
        Span<float> datt = stackalloc float[t];
        for (int i = 0; i < t; i++)
        {
            long qi = (long)(b * t + i) * 3 * d + h * hd;
            var dy = new ReadOnlySpan<float>(datty + (long)(b * t + i) * d + h * hd, hd);
            var row = new ReadOnlySpan<float>(att + ((long)bh * t + i) * t, t);
            float dot = 0;
            for (int j = 0; j <= i; j++)
            {
                long vj = (long)(b * t + j) * 3 * d + 2 * d + h * hd;
                datt[j] = TensorPrimitives.Dot(dy, new ReadOnlySpan<float>(qkv + vj, hd));
                var dv = new Span<float>(dqkv + vj, hd);
                TensorPrimitives.MultiplyAdd(dy, row[j], dv, dv);
                dot += row[j] * datt[j];
            }
            var q = new ReadOnlySpan<float>(qkv + qi, hd);
            var dq = new Span<float>(dqkv + qi, hd);
            for (int j = 0; j <= i; j++)
            {
                float ds = row[j] * (datt[j] - dot) * scale;
                long kj = (long)(b * t + j) * 3 * d + d + h * hd;
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(qkv + kj, hd), ds, dq, dq);
                var dk = new Span<float>(dqkv + kj, hd);
                TensorPrimitives.MultiplyAdd(q, ds, dk, dk);
            }
        }
    }

    private const float GeluScale = 0.7978845608028654f; // √(2/π)
    private const float GeluCoeff = 0.044715f;

    // tmp = tanh(√(2/π)·(x + 0.044715·x³)).
    private void GeluTanh(float* x, int n)
    {
        var xs = new ReadOnlySpan<float>(x, n);
        var tmp = new Span<float>(_tmp, n);
        TensorPrimitives.Multiply(xs, xs, tmp);
        TensorPrimitives.Multiply(tmp, xs, tmp);
        TensorPrimitives.MultiplyAdd(tmp, GeluCoeff, xs, tmp);
        TensorPrimitives.Multiply(tmp, GeluScale, tmp);
        TensorPrimitives.Tanh(tmp, tmp);
    }

    private void GeluForward(float* x, float* y, int n)
    {
        GeluTanh(x, n);
        var tmp = new Span<float>(_tmp, n);
        var ys = new Span<float>(y, n);
        TensorPrimitives.Add(tmp, 1f, tmp);
        TensorPrimitives.Multiply(tmp, new ReadOnlySpan<float>(x, n), ys);
        TensorPrimitives.Multiply(ys, 0.5f, ys);
    }

    private void GeluBackward(float* x, float* dy, float* dx, int n)
    {
        GeluTanh(x, n);
        for (int i = 0; i < n; i++)
        {
            float xi = x[i], th = _tmp[i];
            float grad = 0.5f * (1 + th) + 0.5f * xi * (1 - th * th) * GeluScale * (1 + 3 * GeluCoeff * xi * xi);
            dx[i] = grad * dy[i];
        }
    }

    private float* Alloc(long count)
    {
        nuint bytes = (nuint)(Math.Max(count, 1) * sizeof(float));
        void* p = NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(p, bytes);
        _blocks.Add((nint)p);
        return (float*)p;
    }

    private float*[] Many(int count, long size)
    {
        var result = new float*[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = Alloc(size);
        }
        return result;
    }

    private void Put(long offset, float[] values) => values.AsSpan().CopyTo(new Span<float>(Params + offset, values.Length));

    private static void Get(float* source, long offset, float[] values) => new ReadOnlySpan<float>(source + offset, values.Length).CopyTo(values);

    private sealed class Layer
    {
        public long Ln1G, Ln1B, AttnW, AttnB, ProjW, ProjB, Ln2G, Ln2B, FcW, FcB, FcProjW, FcProjB;
    }
}

internal static class SpanExtensions
{
    public static void MultiplyInPlace(this Span<float> span, float factor) => TensorPrimitives.Multiply(span, factor, span);
}
