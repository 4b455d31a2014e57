using System.Text.Json;
using Prova.Lm.Text;

namespace Prova.Lm.Tests.Text;

/// <summary>
/// One Jinja feature per template, each rendered by Python Jinja2 in transformers' environment
/// (Data/jinja-snippets/generate_snippets.py); Prova must give the same text, or an LmException where Python fails.
/// </summary>
public sealed class JinjaSnippetTests
{
    private static readonly JsonDocument s_golden = JsonDocument.Parse(File.ReadAllText(RepoFiles.Get("tests", "Prova.Lm.Tests", "Data", "jinja-snippets", "snippets.golden.json")));

    public static TheoryData<int> Cases()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < s_golden.RootElement.GetProperty("cases").GetArrayLength(); i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SnippetRendersLikePythonJinja2(int index)
    {
        var c = s_golden.RootElement.GetProperty("cases")[index];
        var source = c.GetProperty("template").GetString()!;
        var variables = new Dictionary<string, object?>();
        foreach (var p in s_golden.RootElement.GetProperty("variables").EnumerateObject())
        {
            variables[p.Name] = p.Value;
        }
        var options = new ChatTemplateOptions
        {
            Variables = variables,
            Clock = new ChatTemplateGoldenTests.FixedClock(new DateTimeOffset(2026, 12, 7, 9, 30, 0, TimeSpan.Zero)),
        };
        var messages = variables["messages"] is JsonElement m ? m.EnumerateArray().Select(x => (object?)x).ToList() : [];

        if (c.TryGetProperty("expected", out var expected))
        {
            var actual = ChatTemplate.Parse(source).Render(messages, addGenerationPrompt: false, options);
            Assert.Equal(expected.GetString(), actual);
            return;
        }
        var ex = Assert.Throws<LmException>(() => ChatTemplate.Parse(source).Render(messages, addGenerationPrompt: false, options));
        if (c.TryGetProperty("error", out var error) && !error.GetString()!.Contains(':'))
        {
            Assert.Contains(error.GetString()!, ex.Message); // raise_exception's own message
        }
        else
        {
            Assert.Matches(@"^chat template line \d+, column \d+: ", ex.Message);
        }
    }
}
