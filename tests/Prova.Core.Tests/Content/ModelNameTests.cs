using Prova.Core.Content;

namespace Prova.Core.Tests.Content;

public sealed class ModelNameTests
{
    [Theory]
    [InlineData("fashion-cnn")]
    [InlineData("acme/fashion-cnn.v2")]
    [InlineData("lm/default")]
    [InlineData("fashion-mlp.int8.onnx")]
    [InlineData("a")]
    [InlineData("my_model-2")]
    public void NormalNamesAreTheirOwnNormalForm(string name)
    {
        Assert.True(ModelName.IsNormal(name));
        Assert.Equal(name, ModelName.Normalize(name));
        ModelName.Require(name);
    }

    [Theory]
    [InlineData("FASHION-CNN", "fashion-cnn")]
    [InlineData("fashion-cnn/", "fashion-cnn")]
    [InlineData("-fashion-cnn", "fashion-cnn")]
    [InlineData("fashion//cnn", "fashion/cnn")]
    [InlineData("fashion-_cnn", "fashion-cnn")]
    [InlineData("\uFF26\uFF21\uFF33\uFF28\uFF29\uFF2F\uFF2E\uFF0D\uFF43\uFF4E\uFF4E", "fashion-cnn")] // fullwidth, including the hyphen
    [InlineData("\uFB01le", "file")] // the fi ligature
    [InlineData("model\u00B2", "model2")] // superscript two
    [InlineData("\u2460\u2461", "12")] // circled digits
    [InlineData("\uD835\uDC00\uD835\uDFCF", "a1")] // mathematical bold A, bold digit one
    [InlineData("\u2167", "viii")] // Roman numeral eight
    public void LookAlikesAreNotNormalAndTheMessageGivesTheNormalForm(string name, string normal)
    {
        Assert.Equal(normal, ModelName.Normalize(name));
        Assert.False(ModelName.IsNormal(name));
        var ex = Assert.Throws<ContentFormatException>(() => ModelName.Require(name));
        Assert.Contains($"use '{normal}'", ex.Message);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("fashion cnn", "spaces are not allowed")]
    [InlineData("fashion\u0441nn", "character U+0441 is not allowed")] // Cyrillic es: no NFKC mapping to ASCII
    [InlineData("bad name!", "spaces are not allowed")]
    [InlineData("caf\u00E9", "character U+00E9 is not allowed")]
    [InlineData("--//--", "it is only separators")]
    [InlineData("model\uD800", "character U+FFFD is not allowed")] // a lone surrogate
    public void NamesWithoutANormalFormAreRefusedSayingWhy(string name, string why)
    {
        Assert.Null(ModelName.Normalize(name));
        var ex = Assert.Throws<ContentFormatException>(() => ModelName.Require(name));
        Assert.Contains(why, ex.Message);
        Assert.Contains(ModelName.Rule, ex.Message);
    }

    [Fact]
    public void LengthIsLimitedAndAHugeNameIsQuotedBounded()
    {
        Assert.True(ModelName.IsNormal(new string('a', ModelName.MaxLength)));
        string huge = new('a', 1_000_000);
        var ex = Assert.Throws<ContentFormatException>(() => ModelName.Require(huge));
        Assert.Contains("it is 1000000 characters long", ex.Message);
        Assert.True(ex.Message.Length < 600, $"{ex.Message.Length} chars");
    }
}
