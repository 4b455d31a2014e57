namespace Prova.Runtime.Ops;

internal static class LinearOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
    }
}
