using Prova.Core;

namespace Prova.Lm.Tests;

public sealed class LmExceptionTests
{
    [Fact]
    public void LmExceptionIsAProvaExceptionSoTheCliReportsItAsBadInput()
    {
        ProvaException ex = new LmException("tokenizer.json is missing");
        Assert.Equal("tokenizer.json is missing", ex.Message);
    }
}
