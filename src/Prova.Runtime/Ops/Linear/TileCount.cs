namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// A compile-time count for the AVX-512 convolution microkernels (pixels per tile in
/// <see cref="ConvTile512"/>, channels per tile in <see cref="ConvRowTile512"/>): the JIT specialises a
/// kernel per count, so the branches on the count and the unused accumulators disappear.
/// </summary>
internal interface ITileCount
{
    static abstract int N { get; }
}

internal readonly struct N1 : ITileCount
{
    public static int N => 1;
}

internal readonly struct N2 : ITileCount
{
    public static int N => 2;
}

internal readonly struct N3 : ITileCount
{
    public static int N => 3;
}

internal readonly struct N4 : ITileCount
{
    public static int N => 4;
}

internal readonly struct N5 : ITileCount
{
    public static int N => 5;
}

internal readonly struct N6 : ITileCount
{
    public static int N => 6;
}

internal readonly struct N7 : ITileCount
{
    public static int N => 7;
}

internal readonly struct N8 : ITileCount
{
    public static int N => 8;
}

internal readonly struct N9 : ITileCount
{
    public static int N => 9;
}

internal readonly struct N10 : ITileCount
{
    public static int N => 10;
}

internal readonly struct N11 : ITileCount
{
    public static int N => 11;
}

internal readonly struct N12 : ITileCount
{
    public static int N => 12;
}
