using Prova.Core;

namespace Prova.Runtime;

/// <summary>The inputs given to a run do not match the model: a missing or unknown name, a wrong element type or shape.</summary>
public sealed class InputException : ProvaException
{
    public InputException(string message) : base(message) { }
}
