namespace Prova.Core.Keys;

/// <summary>
/// Where the keystore password comes from (docs/keys.md): the environment variable
/// <see cref="EnvironmentVariable"/> if it is set, otherwise an interactive prompt when there is a
/// terminal, otherwise an error. Passwords are never read from the command line (they would show up
/// in shell history and in the process list).
/// </summary>
public static class KeyPassword
{
    public const string EnvironmentVariable = "PROVA_KEY_PASSWORD";

    /// <param name="prompt">Asks the user without echoing; null when there is no terminal.</param>
    /// <exception cref="KeystoreException">no environment variable and no way to prompt.</exception>
    public static string Resolve(Func<string>? prompt)
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (fromEnvironment is not null)
        {
            return fromEnvironment;
        }
        if (prompt is not null)
        {
            return prompt();
        }
        throw new KeystoreException($"no key password: set {EnvironmentVariable} or run in a terminal to be prompted");
    }
}
