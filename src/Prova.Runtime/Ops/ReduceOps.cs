namespace Prova.Runtime.Ops;

internal static class ReduceOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
    }
}
