namespace Prova.Cli;

/// <summary>The process exit codes of the <c>prova</c> tool.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A verification failed: results that should be identical are not.</summary>
    public const int VerificationFailed = 1;

    /// <summary>Bad usage or bad input: unknown options, missing or malformed files, inputs that do not fit the model.</summary>
    public const int BadInput = 2;

    /// <summary>A bug in Prova itself (an unexpected exception).</summary>
    public const int InternalError = 3;
}
