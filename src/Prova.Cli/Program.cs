namespace Prova.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        if (Environment.GetEnvironmentVariable(Devnet.ExitWithStdinVariable) == "1")
        {
            ExitWhenStdinCloses();
        }
        return ProvaCli.Run(args, Console.Out, Console.Error);
    }

    /// <summary>
    /// A devnet child: its parent holds the other end of standard input. When the parent closes it (a
    /// clean stop) or dies (even SIGKILL), reading gives end-of-file and this process exits, so no node
    /// outlives its devnet. Environment.Exit runs the host's graceful shutdown.
    /// </summary>
    private static void ExitWhenStdinCloses()
    {
        var thread = new Thread(() =>
        {
            try
            {
                using var stdin = Console.OpenStandardInput();
                var buffer = new byte[256];
                while (stdin.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
            Environment.Exit(0);
        })
        { IsBackground = true, Name = "exit-with-parent" };
        thread.Start();
    }
}
