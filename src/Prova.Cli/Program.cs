namespace Prova.Cli;

public static class Program
{
    public static int Main(string[] args) => ProvaCli.Run(args, Console.Out, Console.Error);
}
