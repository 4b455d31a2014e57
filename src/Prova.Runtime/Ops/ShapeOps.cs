namespace Prova.Runtime.Ops;

internal static class ShapeOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
    }
}
