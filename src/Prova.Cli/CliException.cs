using Prova.Core;

namespace Prova.Cli;

/// <summary>Bad usage or input detected by the command-line tool itself (a missing file, an option out of range).</summary>
public sealed class CliException : ProvaException
{
    public CliException(string message) : base(message) { }

    public CliException(string message, Exception inner) : base(message, inner) { }
}
