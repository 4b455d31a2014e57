using Prova.Core;

namespace Prova.Lm;

/// <summary>A language-model bundle, tokenizer or chat template that cannot be used as given; the message says what to fix.</summary>
public sealed class LmException : ProvaException
{
    public LmException(string message) : base(message) { }

    public LmException(string message, Exception inner) : base(message, inner) { }
}
