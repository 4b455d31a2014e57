using System.Runtime.InteropServices;
using Prova.Core;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// The direct path of <see cref="ConvKernel"/> (AVX-512 only): output pixels × output channels tiles
/// vectorised across channels (<see cref="ConvTile512"/>), reading the same zero-padded stride phases as
/// the implicit GEMM and constant weights packed once per plan as [group][channel block][K][lanes] (32 lanes, or 16 when a group has at most 16 output channels). Tiles
/// stay inside one output row, so no virtual column is computed and thrown away. Every output element
/// is the same k-chain as on the other paths, so choosing this path by vector width changes no bit.
/// </summary>
internal sealed unsafe partial class ConvKernel
{
    private const int MinDirectChannels = 16;
    private const int MaxDirectWidth = 256;
    private const int DirectKc = 144;

    private readonly DirectBody _directBody = new();
    private readonly BandBody _bandBody = new();
    private int _bands;
    private float[]? _direct;
    private float* _directW;
    private int _blocks;
    private int _lanes;
    private bool _rowTiles;
    private int _rowBlockSize;

    /// <summary>Packs constant weights for the direct path when the output channels per group fill a 16- or 32-lane block well enough.</summary>
    private void PlanDirect(Tensor? weights)
    {
        if (weights is not { Data: float[] wd } || _w.OutW > MaxDirectWidth)
        {
            return;
        }
        if (_mg < MinDirectChannels)
        {
            PlanRowTiles(wd);
            return;
        }
        _rowTiles = false;
        int lanes = _mg <= 16 ? 16 : 32;
        int blocks = (_mg + lanes - 1) / lanes;
        long floats = (long)_group * blocks * _kg * lanes;
        if (floats > int.MaxValue / 2)
        {
            return;
        }
        var packed = GC.AllocateArray<float>((int)Math.Max(1, floats), pinned: true);
        for (int g = 0; g < _group; g++)
        {
            for (int cb = 0; cb < blocks; cb++)
            {
                int dst = (g * blocks + cb) * _kg * lanes;
                for (int k = 0; k < _kg; k++)
                {
                    for (int l = 0; l < lanes; l++)
                    {
                        int m = cb * lanes + l;
                        packed[dst + k * lanes + l] = m < _mg ? wd[((long)g * _mg + m) * _kg + k] : 0f;
                    }
                }
            }
        }
        _blocks = blocks;
        _lanes = lanes;
        _direct = packed;
        _directW = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(packed, 0);
    }

    /// <summary>
    /// Few output channels per group: pixel-row tiles (<see cref="ConvRowTile512"/>), weights packed as
    /// [group][channel block][K][12] with the channels split into equal blocks of at most 12.
    /// </summary>
    private void PlanRowTiles(float[] wd)
    {
        const int Max = ConvRowTile512.MaxChannels;
        int blocks = (_mg + Max - 1) / Max;
        int size = (_mg + blocks - 1) / blocks;
        long floats = (long)_group * blocks * _kg * Max;
        if (floats > int.MaxValue / 2)
        {
            return;
        }
        var packed = GC.AllocateArray<float>((int)Math.Max(1, floats), pinned: true);
        for (int g = 0; g < _group; g++)
        {
            for (int b = 0; b < blocks; b++)
            {
                int dst = (g * blocks + b) * _kg * Max;
                for (int k = 0; k < _kg; k++)
                {
                    for (int l = 0; l < Max; l++)
                    {
                        int m = b * size + l;
                        packed[dst + k * Max + l] = l < size && m < _mg ? wd[((long)g * _mg + m) * _kg + k] : 0f;
                    }
                }
            }
        }
        _rowTiles = true;
        _rowBlockSize = size;
        _blocks = blocks;
        _direct = packed;
        _directW = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(packed, 0);
    }

    /// <summary>Units [begin, end) (unit = output row * blocks + channel block) of group <paramref name="g"/> with pixel-row tiles.</summary>
    private void RowTileUnits(int g, float* phases, float* bias, float* y, int begin, int end)
    {
        const int Max = ConvRowTile512.MaxChannels;
        int outW = _w.OutW;
        fixed (nint* koff = _koff)
        {
            for (int u = begin; u < end; u++)
            {
                int oh = u / _blocks;
                int b = u % _blocks;
                int m0 = b * _rowBlockSize;
                int channels = Math.Min(_rowBlockSize, _mg - m0);
                float* wb = _directW + (long)(g * _blocks + b) * _kg * Max;
                float* xrow = phases + (long)oh * _wq;
                float* yrow = y + (long)m0 * _p + (long)oh * outW;
                for (int ow0 = 0; ow0 < outW; ow0 += 32)
                {
                    ConvRowTile512.Run(channels, Math.Min(32, outW - ow0), _kg, xrow + ow0, koff, wb, bias == null ? null : bias + m0, _relu, yrow + ow0, _p);
                }
            }
        }
    }

    /// <summary>One group of one image on the direct path: (output row, channel block) units, split across threads when large.</summary>
    private void RunDirect(WorkerPool? pool, int g, float* phases, float* bias, float* y)
    {
        int units = _w.OutH * _blocks;
        long perUnit = (long)_w.OutW * (_rowTiles ? _rowBlockSize : _lanes) * Math.Max(1, _kg);
        if (pool is not null && pool.Threads > 1 && units > 1 && perUnit * units >= (1L << 18))
        {
            _directBody.Set(this, g, phases, bias, y);
            int grain = (int)Math.Clamp((1L << 16) / perUnit, 1, units);
            pool.For(units, _directBody, grain);
        }
        else
        {
            Units(g, phases, bias, y, 0, units);
        }
    }

    private void Units(int g, float* phases, float* bias, float* y, int begin, int end)
    {
        if (_rowTiles)
        {
            RowTileUnits(g, phases, bias, y, begin, end);
        }
        else
        {
            DirectUnits(g, phases, bias, y, begin, end);
        }
    }

    /// <summary>Units [begin, end) (unit = output row * blocks + channel block) of group <paramref name="g"/>.</summary>
    private void DirectUnits(int g, float* phases, float* bias, float* y, int begin, int end)
    {
        int outW = _w.OutW;
        int lanes = _lanes;
        float* row = stackalloc float[outW * lanes];
        float* blockBias = stackalloc float[32];
        int tiles = (outW + ConvTile512.MaxPixels - 1) / ConvTile512.MaxPixels;
        int baseR = outW / tiles;
        int extra = outW % tiles;
        int k = _kg;
        fixed (nint* koff = _koff)
        {
            for (int u = begin; u < end; u++)
            {
                int oh = u / _blocks;
                int cb = u % _blocks;
                int m0 = cb * lanes;
                int mv = Math.Min(lanes, _mg - m0);
                float* wb = _directW + (long)(g * _blocks + cb) * k * lanes;
                float* bb = null;
                if (bias != null)
                {
                    for (int l = 0; l < lanes; l++)
                    {
                        blockBias[l] = l < mv ? bias[m0 + l] : 0f;
                    }
                    bb = blockBias;
                }
                float* xrow = phases + (long)oh * _wq;
                int kb = 0;
                do
                {
                    int kc = Math.Min(DirectKc, k - kb);
                    if (k - kb - kc < DirectKc / 4)
                    {
                        kc = k - kb; // merge a short last block
                    }
                    bool finish = kb + kc == k;
                    int ow0 = 0;
                    for (int t = 0; t < tiles; t++)
                    {
                        int r = baseR + (t < extra ? 1 : 0);
                        if (lanes == 32)
                        {
                            ConvTile512.Run32(r, kc, xrow + ow0, koff + kb, wb + (long)kb * 32, kb > 0, finish, bb, _relu, row + ow0 * 32);
                        }
                        else
                        {
                            ConvTile512.Run16(r, kc, xrow + ow0, koff + kb, wb + (long)kb * 16, kb > 0, finish, bb, _relu, row + ow0 * 16);
                        }
                        ow0 += r;
                    }
                    kb += kc;
                }
                while (kb < k);
                float* yo = y + (long)m0 * _p + (long)oh * outW;
                for (int mb = 0; mb < mv; mb += 16)
                {
                    for (int i0 = 0; i0 < outW; i0 += 16)
                    {
                        Transpose512.Block16(row + (long)i0 * lanes + mb, lanes, Math.Min(16, outW - i0), yo + (long)mb * _p + i0, _p, Math.Min(16, mv - mb));
                    }
                }
            }
        }
    }

    /// <summary>
    /// Bands [begin, end) of the output rows of (image, group) product <paramref name="unit"/>: each band
    /// fills the phase rows it reads into this thread's own slot, then computes its rows.
    /// </summary>
    private void RunBands(int unit, float* x, float* bias, float* y, float* scratch, int begin, int end)
    {
        int slot = 0;
        while (Interlocked.CompareExchange(ref _slotBusy[slot], 1, 0) != 0)
        {
            slot = (slot + 1) % _slots; // at most Threads callers run at once, so a slot is free
        }
        try
        {
            float* mine = scratch + slot * _slotFloats;
            int n = unit / _group;
            int g = unit % _group;
            float* xg = x + ((long)n * _c + (long)g * _cg) * _inPlane;
            float* yg = y + ((long)n * _m + (long)g * _mg) * _p;
            float* bg = bias == null ? null : bias + g * _mg;
            int reach = (_w.KH - 1) * _w.DH / _w.SH; // phase rows below an output row that its taps read
            for (int b = begin; b < end; b++)
            {
                int oh0 = (int)((long)b * _w.OutH / _bands);
                int oh1 = (int)((long)(b + 1) * _w.OutH / _bands);
                if (oh1 <= oh0)
                {
                    continue;
                }
                FillPhaseChannels(xg, mine, 0, _cg, oh0, Math.Min(_hq, oh1 + reach));
                Units(g, mine, bg, yg, oh0 * _blocks, oh1 * _blocks);
            }
        }
        finally
        {
            Volatile.Write(ref _slotBusy[slot], 0);
        }
    }

    private sealed class BandBody : IRangeBody
    {
        private ConvKernel? _owner;
        private int _unit;
        private float* _x;
        private float* _bias;
        private float* _y;
        private float* _scratch;

        public void Set(ConvKernel owner, int unit, float* x, float* bias, float* y, float* scratch)
        {
            _owner = owner;
            _unit = unit;
            _x = x;
            _bias = bias;
            _y = y;
            _scratch = scratch;
        }

        public void Execute(int begin, int end) => _owner!.RunBands(_unit, _x, _bias, _y, _scratch, begin, end);
    }

    private sealed class DirectBody : IRangeBody
    {
        private ConvKernel? _owner;
        private int _g;
        private float* _phases;
        private float* _bias;
        private float* _y;

        public void Set(ConvKernel owner, int g, float* phases, float* bias, float* y)
        {
            _owner = owner;
            _g = g;
            _phases = phases;
            _bias = bias;
            _y = y;
        }

        public void Execute(int begin, int end) => _owner!.Units(_g, _phases, _bias, _y, begin, end);
    }
}
