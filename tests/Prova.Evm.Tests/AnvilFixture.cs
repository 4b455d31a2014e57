using Prova.Evm.Devnet;

namespace Prova.Evm.Tests;

/// <summary>
/// A test that needs the anvil binary. Skipped (with the reason) only when the binary is missing and
/// CI is not set; in CI a missing binary makes the test fail.
/// </summary>
public sealed class AnvilFactAttribute : FactAttribute
{
    public AnvilFactAttribute()
    {
        if (Anvil.FindBinary() is null && Environment.GetEnvironmentVariable("CI") is not "true")
        {
            Skip = "anvil binary not found: run scripts/setup.sh (npm ci --prefix contracts) or set PROVA_ANVIL";
        }
    }
}

/// <summary>One anvil per test class; killed when the class's tests end (also on failure).</summary>
public sealed class AnvilFixture : IAsyncLifetime
{
    private Anvil? _anvil;
    private Exception? _failure;

    public Anvil Anvil => _anvil ?? throw new InvalidOperationException("anvil did not start: " + _failure?.Message, _failure);

    public async Task InitializeAsync()
    {
        if (Anvil.FindBinary() is null)
        {
            _failure = new InvalidOperationException("anvil binary not found: run scripts/setup.sh or set PROVA_ANVIL");
            return;
        }
        try
        {
            _anvil = await Anvil.StartAsync();
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    public Task DisposeAsync()
    {
        _anvil?.Dispose();
        return Task.CompletedTask;
    }
}
