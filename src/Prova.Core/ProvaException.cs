namespace Prova.Core;

/// <summary>
/// Base of every error Prova raises for bad input (a malformed model, a wrong tensor, a bad file).
/// The message always says what is wrong and, where it can, what to do about it; callers such as
/// the CLI print it as one line and exit with code 2.
/// </summary>
public abstract class ProvaException : Exception
{
    protected ProvaException(string message) : base(message) { }

    protected ProvaException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A tensor or tensor file is malformed, or does not match what the model expects.</summary>
public sealed class TensorFormatException : ProvaException
{
    public TensorFormatException(string message) : base(message) { }

    public TensorFormatException(string message, Exception inner) : base(message, inner) { }
}
