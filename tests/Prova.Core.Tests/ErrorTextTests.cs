namespace Prova.Core.Tests;

public sealed class ErrorTextTests
{
    [Fact]
    public void AShortMessageIsUnchanged()
    {
        Assert.Equal("input 'x' is missing", ErrorText.Bound("input 'x' is missing"));
        string exact = new('m', ErrorText.MaxMessageChars);
        Assert.Same(exact, ErrorText.Bound(exact));
    }

    [Theory]
    [InlineData(1001)]
    [InlineData(6_000_000)]
    public void ALongMessageKeepsItsHeadAndTailAndSaysHowMuchWasElided(int length)
    {
        string message = "HEAD" + new string('x', length - 8) + "TAIL";
        string bounded = ErrorText.Bound(message);
        Assert.True(bounded.Length <= ErrorText.MaxMessageChars, $"{bounded.Length} chars");
        Assert.StartsWith("HEAD", bounded);
        Assert.EndsWith("TAIL", bounded);
        int elided = int.Parse(bounded.Split(" … (")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(length, bounded.Length - $" … ({elided} chars elided) … ".Length + elided);
    }

    [Fact]
    public void ASurrogatePairIsNeverSplit()
    {
        string message = string.Concat(Enumerable.Repeat("\uD835\uDC00", 2000));
        string bounded = ErrorText.Bound(message);
        Assert.DoesNotContain('\uFFFD', System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(bounded)));
    }

    [Fact]
    public void ShapesElideTheirMiddleDimensions()
    {
        Assert.Equal("[]", ErrorText.Shape(ReadOnlySpan<int>.Empty));
        Assert.Equal("[1, 3, 224, 224]", ErrorText.Shape([1, 3, 224, 224]));
        int[] twelve = [.. Enumerable.Range(0, 12)];
        Assert.Equal("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", ErrorText.Shape(twelve));
        int[] thirteen = [.. Enumerable.Range(0, 13)];
        Assert.Equal("[0, 1, 2, 3, 4, 5, 6, 7, … (1 more) …, 9, 10, 11, 12]", ErrorText.Shape(thirteen));
        var huge = new long[2_000_000];
        Assert.Equal("[0, 0, 0, 0, 0, 0, 0, 0, … (1999988 more) …, 0, 0, 0, 0]", ErrorText.Shape(huge));
    }

    [Fact]
    public void JoinedNamesAreEachBounded()
    {
        string[] names = ["a", new string('n', 10_000), "c"];
        string joined = ErrorText.Join(names);
        Assert.StartsWith("a, nnn", joined);
        Assert.EndsWith(", c", joined);
        Assert.True(joined.Length < 300, $"{joined.Length} chars");
    }
}
