using System.Globalization;
using System.Numerics;

namespace Prova.Cli;

internal static class EthUnits
{
    /// <summary>Wei as ETH for people: at most 4 decimals, e.g. "0.5 ETH".</summary>
    public static string Format(BigInteger wei) => ((decimal)wei / 1_000_000_000_000_000_000m).ToString("0.####", CultureInfo.InvariantCulture) + " ETH";
}
