using System.Runtime.InteropServices;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Generation;

/// <summary>
/// One sequence being generated: its KV cache (native memory, preallocated per capacity and reused by every
/// step), its length, and the logits for the next token. <see cref="Append"/> runs one decode step and
/// allocates nothing unless the cache must grow to the next capacity (64, 128, 256, … slots).
/// </summary>
public sealed unsafe class DecoderState : IDisposable
{
    private readonly DecoderSession _owner;
    private readonly DecoderLayout _layout;
    private readonly float[] _logits;
    private readonly nint _ids;
    private readonly nint _position;
    // Per layer: key cache, value cache ([1, heads, slots, head_dim]); for an in-place cache a second pair the
    // step writes into (the two pairs swap after each step).
    private readonly nint[] _cache;
    private readonly nint[] _next;
    private nint _mask;
    // Exact-shape mode (a model that cannot be padded): the last step's present tensors are the next past.
    private Dictionary<string, Tensor>? _exact;
    private int _slots;
    private int _cached;
    private int _length;
    private bool _disposed;

    internal DecoderState(DecoderSession owner, ReadOnlySpan<int> prompt)
    {
        _owner = owner;
        _layout = owner.Layout;
        _logits = new float[owner.VocabSize];
        int layers = _layout.Layers.Count;
        _cache = new nint[2 * layers];
        _next = new nint[_layout.CacheKind == KvCacheKind.InPlace ? 2 * layers : 0];
        _ids = (nint)NativeMemory.AlignedAlloc(8, 64);
        _position = (nint)NativeMemory.AlignedAlloc(8, 64);
        try
        {
            var outputs = owner.Prefill(prompt);
            var logits = outputs[_layout.Logits];
            int s = prompt.Length;
            if (logits.Length != s * _logits.Length)
            {
                throw new ModelException($"prefill of {s} tokens gave logits {logits.ShapeString()}; expected [1, {s}, {_logits.Length}]");
            }
            logits.Span<float>().Slice((s - 1) * _logits.Length, _logits.Length).CopyTo(_logits);
            _length = s;
            if (!_layout.PadsSafely)
            {
                _exact = outputs;
                _cached = s;
            }
            else if (s < owner.MaxContext)
            {
                Resize(owner.SlotsFor(s), 0);
                for (int l = 0; l < layers; l++)
                {
                    CopyPresent(outputs[_layout.Layers[l].PresentKey], s, _cache[2 * l]);
                    CopyPresent(outputs[_layout.Layers[l].PresentValue], s, _cache[2 * l + 1]);
                }
                _cached = s;
                FillMask();
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Tokens in the sequence so far (prompt and appended).</summary>
    public int Length => _length;

    /// <summary>Logits for the token after the last one (vocabulary-sized); overwritten by the next <see cref="Append"/>.</summary>
    public ReadOnlySpan<float> Logits => _logits;

    /// <summary>KV-cache capacity (slots) of the current step plan.</summary>
    public int Capacity => _slots;

    /// <summary>Feeds one token: runs a decode step and updates <see cref="Logits"/>.</summary>
    public void Append(int tokenId)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_length + 1 > _owner.MaxContext)
        {
            throw new InputException($"the sequence is at the model's context length of {_owner.MaxContext} tokens");
        }
        _owner.CheckTokens([tokenId]);
        if (_exact is not null)
        {
            AppendExact(tokenId);
            return;
        }
        lock (_owner.Gate)
        {
            _owner.ThrowIfDisposed();
            if (_cached + 1 > _slots && _slots < _owner.SlotLimit)
            {
                Resize(_owner.SlotsFor(_cached), _cached);
                FillMask();
            }
            var step = _owner.Step(_slots);
            Write(_layout.IdType, _ids, 0, tokenId);
            step.BindInput(_layout.InputIds, (void*)_ids);
            if (_layout.PositionIds is { } positions)
            {
                Write(_layout.PositionType, _position, 0, _cached);
                step.BindInput(positions, (void*)_position);
            }
            if (_layout.AttentionMask is { } mask)
            {
                step.BindInput(mask, (void*)_mask);
            }
            bool boundPresent = true;
            for (int l = 0; l < _layout.Layers.Count; l++)
            {
                var layer = _layout.Layers[l];
                step.BindInput(layer.PastKey, (void*)_cache[2 * l]);
                step.BindInput(layer.PastValue, (void*)_cache[2 * l + 1]);
                if (_layout.CacheKind == KvCacheKind.InPlace)
                {
                    boundPresent &= step.TryBindOutput(layer.PresentKey, (void*)_next[2 * l]);
                    boundPresent &= step.TryBindOutput(layer.PresentValue, (void*)_next[2 * l + 1]);
                }
            }
            step.Run();
            step.Output<float>(_layout.Logits).CopyTo(_logits);
            if (_layout.CacheKind == KvCacheKind.Append)
            {
                StoreAppended(step);
            }
            else
            {
                StoreInPlace(step, boundPresent);
            }
            _length++;
        }
    }

    /// <summary>One step with exact shapes: the whole cache is passed as it is, and a plan is made for each length.</summary>
    private void AppendExact(int tokenId)
    {
        var outputs = _owner.ExactStep(tokenId, _cached, _exact!);
        outputs[_layout.Logits].Span<float>().CopyTo(_logits);
        _exact = outputs;
        _cached++;
        _length++;
    }

    /// <summary>An appending cache returns [past slots..., new]: copy the new token's keys and values into slot <c>_cached</c>.</summary>
    private void StoreAppended(PlanBinding step)
    {
        if (_cached == _slots)
        {
            return; // the last position of the context: nothing can follow it, so its keys need no slot
        }
        int heads = _layout.KvHeads;
        int d = _layout.HeadDim;
        for (int l = 0; l < _layout.Layers.Count; l++)
        {
            var layer = _layout.Layers[l];
            for (int part = 0; part < 2; part++)
            {
                var present = step.Output<float>(part == 0 ? layer.PresentKey : layer.PresentValue);
                float* cache = (float*)_cache[2 * l + part];
                for (int h = 0; h < heads; h++)
                {
                    present.Slice(((h * (_slots + 1)) + _slots) * d, d).CopyTo(new Span<float>(cache + (((long)h * _slots) + _cached) * d, d));
                }
            }
        }
        Write(_layout.MaskType, _mask, _cached, 1);
        _cached++;
    }

    /// <summary>An in-place cache returns the whole buffer with the new token after the valid ones: it becomes the next past.</summary>
    private void StoreInPlace(PlanBinding step, bool bound)
    {
        for (int l = 0; l < _layout.Layers.Count; l++)
        {
            if (!bound)
            {
                var layer = _layout.Layers[l];
                step.Output<float>(layer.PresentKey).CopyTo(new Span<float>((void*)_next[2 * l], CacheFloats));
                step.Output<float>(layer.PresentValue).CopyTo(new Span<float>((void*)_next[2 * l + 1], CacheFloats));
            }
            (_cache[2 * l], _next[2 * l]) = (_next[2 * l], _cache[2 * l]);
            (_cache[2 * l + 1], _next[2 * l + 1]) = (_next[2 * l + 1], _cache[2 * l + 1]);
        }
        _cached++;
        if (_cached < _slots)
        {
            Write(_layout.MaskType, _mask, _cached, 1);
        }
    }

    private int CacheFloats => _layout.KvHeads * _slots * _layout.HeadDim;

    /// <summary>Moves the cache to <paramref name="slots"/> slots per head, keeping the first <paramref name="keep"/> tokens.</summary>
    private void Resize(int slots, int keep)
    {
        int heads = _layout.KvHeads;
        int d = _layout.HeadDim;
        nuint bytes = (nuint)((long)heads * slots * d * sizeof(float));
        for (int i = 0; i < _cache.Length; i++)
        {
            float* fresh = (float*)NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear(fresh, bytes);
            if (_cache[i] != 0)
            {
                float* old = (float*)_cache[i];
                for (int h = 0; h < heads; h++)
                {
                    new ReadOnlySpan<float>(old + ((long)h * _slots * d), keep * d).CopyTo(new Span<float>(fresh + ((long)h * slots * d), keep * d));
                }
                NativeMemory.AlignedFree(old);
            }
            _cache[i] = (nint)fresh;
        }
        for (int i = 0; i < _next.Length; i++)
        {
            if (_next[i] != 0)
            {
                NativeMemory.AlignedFree((void*)_next[i]);
            }
            _next[i] = (nint)NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear((void*)_next[i], bytes);
        }
        if (_mask != 0)
        {
            NativeMemory.AlignedFree((void*)_mask);
        }
        int maskLength = _layout.CacheKind == KvCacheKind.Append ? slots + 1 : slots;
        _mask = (nint)NativeMemory.AlignedAlloc((nuint)(maskLength * 8), 64);
        _slots = slots;
    }

    /// <summary>The attention mask for the next step: valid slots and the new token are 1, free slots 0.</summary>
    private void FillMask()
    {
        int length = _layout.CacheKind == KvCacheKind.Append ? _slots + 1 : _slots;
        for (int i = 0; i < length; i++)
        {
            bool valid = _layout.CacheKind == KvCacheKind.Append ? i < _cached || i == _slots : i <= _cached;
            Write(_layout.MaskType, _mask, i, valid ? 1 : 0);
        }
    }

    /// <summary>Copies a prefill's present tensor [1, heads, s, head_dim] into a cache with <c>_slots</c> slots per head.</summary>
    private void CopyPresent(Tensor present, int s, nint cache)
    {
        int heads = _layout.KvHeads;
        int d = _layout.HeadDim;
        if (present.Length != heads * s * d)
        {
            throw new ModelException($"prefill of {s} tokens returned a cache tensor of shape {present.ShapeString()}; expected [1, {heads}, {s}, {d}]");
        }
        var src = present.Span<float>();
        for (int h = 0; h < heads; h++)
        {
            src.Slice(h * s * d, s * d).CopyTo(new Span<float>((float*)cache + ((long)h * _slots * d), s * d));
        }
    }

    private static void Write(DataType type, nint buffer, int index, long value)
    {
        if (type == DataType.Int32)
        {
            ((int*)buffer)[index] = (int)value;
        }
        else
        {
            ((long*)buffer)[index] = value;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var p in _cache.Concat(_next))
        {
            if (p != 0)
            {
                NativeMemory.AlignedFree((void*)p);
            }
        }
        foreach (var p in (ReadOnlySpan<nint>)[_ids, _position, _mask])
        {
            if (p != 0)
            {
                NativeMemory.AlignedFree((void*)p);
            }
        }
    }
}
