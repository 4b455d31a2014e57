namespace Prova.Runtime.Generation;

/// <summary>
/// How the next token is chosen from the logits (docs/generation.md specifies every step exactly).
/// The defaults are greedy decoding: temperature 0.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>0 picks the most likely token (greedy); above 0 samples from softmax(logits / temperature).</summary>
    public float Temperature { get; init; }

    /// <summary>Keep only the K most likely tokens before sampling; 0 keeps all.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches P (nucleus); 1 keeps all.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Divides positive (multiplies negative) logits of tokens already in the sequence; 1 is off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Seeds the random draws of sampling; greedy decoding draws nothing.</summary>
    public ulong Seed { get; init; }

    public bool IsGreedy => Temperature == 0f;

    /// <summary>Throws an <see cref="InputException"/> naming the first parameter that is out of range.</summary>
    public void Validate()
    {
        if (!float.IsFinite(Temperature) || Temperature < 0f || Temperature > 100f)
        {
            throw new InputException($"temperature must be between 0 and 100 (0 is greedy); got {Temperature}");
        }
        if (TopK < 0)
        {
            throw new InputException($"top-k must be 0 (off) or positive; got {TopK}");
        }
        if (!(TopP > 0f && TopP <= 1f))
        {
            throw new InputException($"top-p must be in (0, 1]; got {TopP}");
        }
        if (!float.IsFinite(RepetitionPenalty) || RepetitionPenalty <= 0f || RepetitionPenalty > 100f)
        {
            throw new InputException($"repetition penalty must be in (0, 100] (1 is off); got {RepetitionPenalty}");
        }
    }
}
