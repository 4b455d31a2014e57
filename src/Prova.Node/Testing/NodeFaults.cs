using System.Globalization;

namespace Prova.Node.Testing;

/// <summary>
/// Faults a node injects on purpose, for tests of the network and the devnet's lying node only (docs/network.md,
/// "Fault options"): a comma-separated list of <c>corrupt-output</c>, <c>slow:&lt;ms&gt;</c>, <c>crash-after:&lt;n&gt;</c>,
/// <c>corrupt-chunks</c>. Every fault is off unless named. Only <see cref="FaultyNode"/> turns them on; a node's
/// settings cannot.
/// </summary>
public sealed record NodeFaults
{
    public static readonly NodeFaults None = new();

    /// <summary>Flip one bit of the first output tensor, then hash and sign what is returned.</summary>
    public bool CorruptOutput { get; init; }

    /// <summary>Delay each inference by this many milliseconds, and each token of a generation.</summary>
    public int SlowMs { get; init; }

    /// <summary>Serve this many inference requests, then die on the next one; null = never.</summary>
    public int? CrashAfter { get; init; }

    /// <summary>Serve model chunks (and content) with one byte flipped.</summary>
    public bool CorruptChunks { get; init; }

    public bool Any => CorruptOutput || SlowMs > 0 || CrashAfter is not null || CorruptChunks;

    /// <summary>The canonical spec, e.g. "corrupt-output,slow:200" ("" when none).</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (CorruptOutput)
        {
            parts.Add("corrupt-output");
        }
        if (SlowMs > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"slow:{SlowMs}"));
        }
        if (CrashAfter is int n)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"crash-after:{n}"));
        }
        if (CorruptChunks)
        {
            parts.Add("corrupt-chunks");
        }
        return string.Join(',', parts);
    }

    /// <exception cref="FormatException">the spec names an unknown fault or a bad number.</exception>
    public static NodeFaults Parse(string? spec) =>
        TryParse(spec, out var faults, out string? problem) ? faults : throw new FormatException(problem);

    public static bool TryParse(string? spec, out NodeFaults faults, out string? problem)
    {
        faults = None;
        problem = null;
        if (string.IsNullOrWhiteSpace(spec))
        {
            return true;
        }
        var result = new NodeFaults();
        foreach (string raw in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = raw.IndexOf(':', StringComparison.Ordinal);
            string name = colon < 0 ? raw : raw[..colon];
            string? arg = colon < 0 ? null : raw[(colon + 1)..];
            switch (name)
            {
                case "corrupt-output" when arg is null:
                    result = result with { CorruptOutput = true };
                    break;
                case "corrupt-chunks" when arg is null:
                    result = result with { CorruptChunks = true };
                    break;
                case "slow" when TryNumber(arg, 1, 600_000, out int ms):
                    result = result with { SlowMs = ms };
                    break;
                case "crash-after" when TryNumber(arg, 0, int.MaxValue, out int n):
                    result = result with { CrashAfter = n };
                    break;
                default:
                    problem = $"'{(raw.Length > 40 ? raw[..40] : raw)}' is not a fault: use corrupt-output, slow:<ms 1..600000>, crash-after:<n ≥ 0> or corrupt-chunks (comma-separated)";
                    return false;
            }
        }
        faults = result;
        return true;
    }

    private static bool TryNumber(string? text, int min, int max, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
}
