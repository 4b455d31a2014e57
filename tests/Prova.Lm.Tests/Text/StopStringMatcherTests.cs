using Prova.Lm.Text;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Text;

public sealed class StopStringMatcherTests(ITestOutputHelper output)
{
    [Fact]
    public void HoldsBackAPossibleStopAndReleasesItWhenItIsNot()
    {
        var m = new StopStringMatcher(["<|im_end|>"]);
        Assert.Equal("Hello ", m.Push("Hello <|im"));
        Assert.Equal("<|imx", m.Push("x"));
        Assert.False(m.Stopped);
    }

    [Fact]
    public void StopsAtAStopSplitAcrossPiecesAndDropsWhatFollows()
    {
        var m = new StopStringMatcher(["\nUser:", "</s>"]);
        Assert.Equal("The answer is 4.", m.Push("The answer is 4.\nUs"));
        Assert.Equal("", m.Push("er: next"));
        Assert.True(m.Stopped);
        Assert.Equal("\nUser:", m.MatchedStop);
        Assert.Equal("", m.Push("more"));
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void TheEarliestStopWins()
    {
        var m = new StopStringMatcher(["bc", "abcd"]);
        Assert.Equal("x", m.Push("xabcd"));
        Assert.Equal("abcd", m.MatchedStop);
    }

    [Fact]
    public void AStopThatStartsEarlierButCompletesLaterWins()
    {
        // Found by StreamingEqualsCuttingTheWholeTextAtTheFirstStop (seed 1970948224).
        var m = new StopStringMatcher(["<", "|<>"]);
        Assert.Equal("aa", m.Push("aa|<"));
        Assert.False(m.Stopped);
        Assert.Equal("", m.Push(">tail"));
        Assert.Equal("|<>", m.MatchedStop);
    }

    [Fact]
    public void FlushReleasesHeldTextAtTheEnd()
    {
        var m = new StopStringMatcher(["STOP"]);
        Assert.Equal("go ", m.Push("go ST"));
        Assert.Equal("ST", m.Flush());
        Assert.Throws<LmException>(() => new StopStringMatcher([""]));
    }

    [Fact]
    public void StreamingEqualsCuttingTheWholeTextAtTheFirstStop()
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (var i = 0; i < 2_000; i++)
        {
            var alphabet = "ab<|>";
            string[] stops = [.. Enumerable.Range(0, rng.Next(1, 3)).Select(_ => new string([.. Enumerable.Range(0, rng.Next(1, 5)).Select(_ => alphabet[rng.Next(alphabet.Length)])]))];
            var text = new string([.. Enumerable.Range(0, rng.Next(0, 30)).Select(_ => alphabet[rng.Next(alphabet.Length)])]);
            var cut = stops.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(x => x >= 0).DefaultIfEmpty(-1).Min();
            var expected = cut < 0 ? text : text[..cut];

            var m = new StopStringMatcher(stops);
            var streamed = "";
            var pos = 0;
            while (pos < text.Length)
            {
                var n = rng.Next(1, 4);
                streamed += m.Push(text.Substring(pos, Math.Min(n, text.Length - pos)));
                pos += n;
            }
            streamed += m.Flush();
            Assert.True(expected == streamed, $"seed {seed}: text '{text}', stops [{string.Join(", ", stops)}]: expected '{expected}', streamed '{streamed}'");
            Assert.Equal(cut >= 0, m.Stopped);
        }
    }
}
