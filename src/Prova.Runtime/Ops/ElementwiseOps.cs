namespace Prova.Runtime.Ops;

internal static class ElementwiseOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
    }
}
