using System.Diagnostics;
using System.Text;
using Prova.Lm.Text;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Text;

/// <summary>Parsing and rendering arbitrary templates: an LmException or text, never another exception or a hang.</summary>
public sealed class ChatTemplateFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] s_fragments =
    [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", "{%+", " if ", " elif ", " else ", " endif ", " for ", " in ",
        " endfor ", " set ", " = ", " macro ", " endmacro ", " raw ", " endraw ", " filter ", " endfilter ", " break ", " continue ",
        "messages", "message", "loop.index0", "loop.last", "ns", "namespace(a=1)", "range(", "99999999", ")", "(", "[", "]", "{", "}",
        "'str'", "\"q\"", "'\\u00e9'", "'\\x", "1", "-1", "2.5", "1e400", "::-1", ":", ",", ".", "|", " is ", " not ", " and ", " or ",
        "~", "+", "-", "*", "**", "/", "//", "%", "==", "!=", "<", ">=", "trim", "tojson", "length", "map", "selectattr", "join",
        "defined", "none", "string", "raise_exception(", "strftime_now(", "'%Y'", "content", "role", "\n", " ", "  ", "x", "😀", "\\",
        "add_generation_prompt", "bos_token", "items()", "split(", "replace(", "'a' * 99999999", "[1] * 9999999",
    ];

    [Fact]
    public void RandomTemplatesOnlyThrowLmException()
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < 5_000; i++)
        {
            var sb = new StringBuilder();
            var n = rng.Next(1, 30);
            for (var j = 0; j < n; j++)
            {
                sb.Append(s_fragments[rng.Next(s_fragments.Length)]);
            }
            Check(sb.ToString(), seed, i);
        }
        output.WriteLine($"5,000 templates in {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void MutatedRealTemplatesOnlyThrowLmException()
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var templates = Directory.GetFiles(RepoFiles.Get("tests", "Prova.Lm.Tests", "Data", "chat-templates"), "*.jinja").Select(File.ReadAllText).ToArray();
        var parsed = 0;
        for (var i = 0; i < 3_000; i++)
        {
            var chars = templates[rng.Next(templates.Length)].ToCharArray().ToList();
            var edits = rng.Next(1, 6);
            for (var e = 0; e < edits && chars.Count > 0; e++)
            {
                var at = rng.Next(chars.Count);
                switch (rng.Next(4))
                {
                    case 0:
                        chars.RemoveAt(at);
                        break;
                    case 1:
                        chars.Insert(at, "{}%#()[]'\"-|.:,=<>!~ \nabz019"[rng.Next(28)]);
                        break;
                    case 2:
                        chars[at] = (char)rng.Next(32, 127);
                        break;
                    default:
                        var len = Math.Min(rng.Next(1, 40), chars.Count - at);
                        chars.RemoveRange(at, len);
                        break;
                }
            }
            if (Check(new string([.. chars]), seed, i))
            {
                parsed++;
            }
        }
        output.WriteLine($"{parsed} of 3,000 mutated templates still rendered");
    }

    [Fact]
    public void DeeplyNestedExpressionsAreRejectedNotAStackOverflow()
    {
        var ex = Assert.Throws<LmException>(() => ChatTemplate.Parse("{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}"));
        Assert.Contains("nesting deeper than", ex.Message);
        var nots = Assert.Throws<LmException>(() => ChatTemplate.Parse("{{ " + string.Concat(Enumerable.Repeat("not ", 5000)) + "1 }}"));
        Assert.Contains("nesting deeper than", nots.Message);
    }

    [Fact]
    public void RunawayLoopsAndHugeOutputsStopWithLmException()
    {
        var loops = Assert.Throws<LmException>(() => ChatTemplate.Parse("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").Render([], false));
        Assert.Contains("steps", loops.Message);
        var big = Assert.Throws<LmException>(() => ChatTemplate.Parse("{% for i in range(5000) %}{{ 'x' * 1000 }}{% endfor %}").Render([], false));
        Assert.Contains("exceeds", big.Message);
        var recursion = Assert.Throws<LmException>(() => ChatTemplate.Parse("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}").Render([], false));
        Assert.Contains("nest deeper", recursion.Message);
    }

    private static readonly ChatMessage[] s_messages = [new("system", "s"), new("user", "u"), new("assistant", "a")];

    private static bool Check(string template, int seed, int iteration)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            ChatTemplate.Parse(template).Render(s_messages, addGenerationPrompt: true, new ChatTemplateOptions { BosToken = "<s>", EosToken = "</s>" });
            return true;
        }
        catch (LmException)
        {
            return false;
        }
        catch (Exception ex)
        {
            Assert.Fail($"seed {seed}, case {iteration}: {ex.GetType().Name} ({ex.Message}) for template {System.Text.Json.JsonSerializer.Serialize(template)}");
            return false;
        }
        finally
        {
            Assert.True(sw.ElapsedMilliseconds < 5_000, $"seed {seed}, case {iteration}: took {sw.ElapsedMilliseconds} ms for {System.Text.Json.JsonSerializer.Serialize(template)}");
        }
    }
}
