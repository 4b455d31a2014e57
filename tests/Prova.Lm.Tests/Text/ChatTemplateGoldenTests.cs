using System.Text.Json;
using Prova.Lm.Text;

namespace Prova.Lm.Tests.Text;

/// <summary>
/// Real chat templates (tests/Prova.Lm.Tests/Data/chat-templates, sources in SOURCES.md) rendered by Prova and compared
/// with the renderings Python Jinja2 produced in transformers' environment (generate_goldens.py there).
/// </summary>
public sealed class ChatTemplateGoldenTests
{
    public static TheoryData<string> Templates()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(Dir, "*.jinja").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileNameWithoutExtension(path));
        }
        return data;
    }

    private static string Dir => RepoFiles.Get("tests", "Prova.Lm.Tests", "Data", "chat-templates");

    [Theory]
    [MemberData(nameof(Templates))]
    public void RendersLikePythonJinja2(string name)
    {
        var template = ChatTemplate.Parse(File.ReadAllText(Path.Combine(Dir, name + ".jinja")));
        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, name + ".golden.json")));
        var root = golden.RootElement;
        var now = DateTimeOffset.Parse(root.GetProperty("now").GetString()! + "Z", System.Globalization.CultureInfo.InvariantCulture);
        var failures = new List<string>();
        var cases = 0;
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            cases++;
            var conversation = c.GetProperty("conversation").GetString()!;
            var messages = root.GetProperty("conversations").GetProperty(conversation).EnumerateArray().Select(m => (object?)m).ToList();
            var addPrompt = c.GetProperty("add_generation_prompt").GetBoolean();
            var options = new ChatTemplateOptions
            {
                BosToken = root.GetProperty("bos_token").GetString(),
                EosToken = root.GetProperty("eos_token").GetString(),
                Clock = new FixedClock(now),
                Variables = c.GetProperty("tools").GetBoolean() ? new Dictionary<string, object?> { ["tools"] = root.GetProperty("tools") } : null,
            };
            var label = $"{conversation}, add_generation_prompt={addPrompt}, tools={c.GetProperty("tools").GetBoolean()}";
            if (c.TryGetProperty("error", out var error))
            {
                try
                {
                    var text = template.Render(messages, addPrompt, options);
                    failures.Add($"{label}: expected the error '{error.GetString()}', rendered {JsonSerializer.Serialize(text)}");
                }
                catch (LmException ex) when (ex.Message.Contains(error.GetString()!, StringComparison.Ordinal))
                {
                }
                catch (LmException ex)
                {
                    failures.Add($"{label}: expected the error '{error.GetString()}', got '{ex.Message}'");
                }
                continue;
            }
            var expected = c.GetProperty("expected").GetString()!;
            try
            {
                var actual = template.Render(messages, addPrompt, options);
                if (actual != expected)
                {
                    failures.Add($"{label}:\n  expected {JsonSerializer.Serialize(expected)}\n  actual   {JsonSerializer.Serialize(actual)}");
                }
            }
            catch (LmException ex)
            {
                failures.Add($"{label}: threw {ex.Message}");
            }
        }
        Assert.True(cases >= 12, $"{name}: golden file has only {cases} cases");
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} of {cases} renderings differ\n" + string.Join("\n", failures));
    }

    internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
