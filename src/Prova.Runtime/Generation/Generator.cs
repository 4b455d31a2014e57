using System.Diagnostics;
using Prova.Core;

namespace Prova.Runtime.Generation;

/// <summary>Why a generation ended.</summary>
public enum StopReason
{
    /// <summary>The model produced one of the stop (end-of-sequence) tokens; it is the last id.</summary>
    StopToken,

    /// <summary><see cref="GenerationOptions.MaxNewTokens"/> tokens were generated.</summary>
    MaxTokens,

    /// <summary>The sequence reached the model's context length.</summary>
    ContextFull,

    /// <summary>The caller's token callback asked to stop (e.g. a stop string matched).</summary>
    Caller,

    /// <summary>The cancellation token fired.</summary>
    Cancelled,
}

/// <summary>What to generate: how many tokens at most, when to stop, how to sample.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;

    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Token ids that end the generation (the model's end-of-sequence ids); the stop token is kept as the last id.</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];
}

/// <summary>The generated ids (prompt excluded) and how long prefill and decode took.</summary>
public sealed record GenerationResult(int[] Ids, double PrefillMs, double DecodeMs, int DecodeSteps, StopReason Reason)
{
    /// <summary>Decode steps per second (each step feeds one generated token back to the model).</summary>
    public double TokensPerSecond => DecodeMs > 0 ? DecodeSteps / (DecodeMs / 1000.0) : 0;

    /// <summary>
    /// SHA-256 (hex) of the canonical encoding of the generated ids as one int64 tensor [n] (docs/formats.md): what
    /// <c>prova generate</c> reports as <c>outputHash</c>. A node's receipt hashes the named output tensors instead
    /// (ids and text, docs/verified-chat.md).
    /// </summary>
    public string OutputHash => HashIds(Ids);

    public static string HashIds(ReadOnlySpan<int> ids)
    {
        var longs = new long[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            longs[i] = ids[i];
        }
        return TensorEncoding.Hash(Tensor.Create([ids.Length], longs));
    }
}

/// <summary>
/// The generation loop: prefill the prompt, then choose a token from the logits with the <see cref="Sampler"/>,
/// report it, and feed it back, until a stop token, the token limit, the context length, the caller or the
/// cancellation token ends it. The tokens are a pure function of (model, prompt, options): see docs/generation.md.
/// </summary>
public static class Generator
{
    public static GenerationResult Generate(DecoderSession session, ReadOnlySpan<int> prompt, GenerationOptions options,
        Action<int>? onToken = null, CancellationToken cancellationToken = default)
        => Generate(session, prompt, options, onToken is null ? null : id =>
        {
            onToken(id);
            return true;
        }, cancellationToken);

    /// <summary>As above; <paramref name="onToken"/> returns false to stop after that token (<see cref="StopReason.Caller"/>).</summary>
    public static GenerationResult Generate(DecoderSession session, ReadOnlySpan<int> prompt, GenerationOptions options,
        Func<int, bool>? onToken, CancellationToken cancellationToken = default)
    {
        if (options.MaxNewTokens < 1)
        {
            throw new InputException($"max new tokens must be at least 1; got {options.MaxNewTokens}");
        }
        var sampler = new Sampler(options.Sampling, session.VocabSize);
        var sequence = new int[prompt.Length + options.MaxNewTokens];
        prompt.CopyTo(sequence);
        int length = prompt.Length;
        var watch = Stopwatch.StartNew();
        using var state = session.Start(prompt);
        double prefillMs = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        int steps = 0;
        StopReason reason;
        while (true)
        {
            if (length >= session.MaxContext)
            {
                reason = StopReason.ContextFull;
                break;
            }
            int token = sampler.Next(state.Logits, sequence.AsSpan(0, length));
            sequence[length++] = token;
            bool more = onToken?.Invoke(token) ?? true;
            if (options.StopTokens.Contains(token))
            {
                reason = StopReason.StopToken;
                break;
            }
            if (!more)
            {
                reason = StopReason.Caller;
                break;
            }
            if (length - prompt.Length >= options.MaxNewTokens)
            {
                reason = StopReason.MaxTokens;
                break;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                reason = StopReason.Cancelled;
                break;
            }
            if (length >= session.MaxContext)
            {
                reason = StopReason.ContextFull;
                break;
            }
            state.Append(token);
            steps++;
        }
        double decodeMs = watch.Elapsed.TotalMilliseconds;
        return new GenerationResult(sequence[prompt.Length..length], prefillMs, decodeMs, steps, reason);
    }
}
