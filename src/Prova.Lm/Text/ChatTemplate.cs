using Prova.Lm.Text.Jinja;

namespace Prova.Lm.Text;

/// <summary>One chat turn: a role ("system", "user", "assistant", "tool") and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>Tokens and extra variables a chat template sees besides the messages.</summary>
public sealed record ChatTemplateOptions
{
    public string? BosToken { get; init; }

    public string? EosToken { get; init; }

    public string? PadToken { get; init; }

    public string? UnkToken { get; init; }

    /// <summary>More variables, e.g. <c>tools</c>, <c>enable_thinking</c>, <c>date_string</c>: strings, numbers, booleans, lists, dictionaries or JsonElements.</summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }

    /// <summary>The time <c>strftime_now</c> reports; the system clock if null.</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>The tokens of a bundle's tokenizer_config.json.</summary>
    public static ChatTemplateOptions From(TokenizerConfig config) => new()
    {
        BosToken = config.BosToken,
        EosToken = config.EosToken,
        PadToken = config.PadToken,
        UnkToken = config.UnkToken,
    };
}

/// <summary>
/// A Hugging Face chat template (the <c>chat_template</c> of tokenizer_config.json), parsed once and rendered per
/// conversation the way transformers' <c>apply_chat_template</c> does: Jinja with trim_blocks, lstrip_blocks and loop
/// controls, the variables <c>messages</c>, <c>add_generation_prompt</c>, <c>tools</c> (none), <c>documents</c> (none)
/// and the special tokens, the functions <c>raise_exception</c> and <c>strftime_now</c>, and transformers' <c>tojson</c>.
/// The supported Jinja subset is listed in docs/language-models.md. Errors, including the template's own
/// raise_exception, are <see cref="LmException"/> with the line and column.
/// </summary>
public sealed class ChatTemplate
{
    private readonly List<Node> _nodes;

    private ChatTemplate(string source, List<Node> nodes)
    {
        Source = source;
        _nodes = nodes;
    }

    public string Source { get; }

    /// <summary>Parses <paramref name="template"/>; syntax errors throw <see cref="LmException"/> naming line and column.</summary>
    public static ChatTemplate Parse(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        return new ChatTemplate(template, JinjaParser.Parse(template));
    }

    /// <summary>The bundle's template: tokenizer_config.json's chat_template (or the one named <paramref name="name"/>).</summary>
    public static ChatTemplate FromConfig(TokenizerConfig config, string? name = null)
    {
        string? text;
        if (name is not null)
        {
            if (!config.NamedChatTemplates.TryGetValue(name, out text))
            {
                throw new LmException($"tokenizer_config.json has no chat template named '{name}' (it has: {string.Join(", ", config.NamedChatTemplates.Keys)})");
            }
        }
        else
        {
            text = config.ChatTemplate;
        }
        return Parse(text ?? throw new LmException("tokenizer_config.json has no chat_template; this bundle cannot format conversations"));
    }

    /// <summary>Renders a conversation.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = new List<object?>(messages.Count);
        foreach (var m in messages)
        {
            list.Add(Py.FromDotNet(m));
        }
        return RenderValues(list, addGenerationPrompt, options);
    }

    /// <summary>Renders messages given as dictionaries or JSON (for tool calls and other fields beyond role and content).</summary>
    public string Render(IEnumerable<object?> messages, bool addGenerationPrompt, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = new List<object?>();
        foreach (var m in messages)
        {
            list.Add(Py.FromDotNet(m));
        }
        return RenderValues(list, addGenerationPrompt, options);
    }

    private string RenderValues(List<object?> messages, bool addGenerationPrompt, ChatTemplateOptions? options)
    {
        options ??= new ChatTemplateOptions();
        var clock = options.Clock ?? TimeProvider.System;
        var root = new Scope(null);
        root.Vars["messages"] = messages;
        root.Vars["add_generation_prompt"] = addGenerationPrompt;
        root.Vars["tools"] = null;
        root.Vars["documents"] = null;
        foreach (var (name, value) in new[] { ("bos_token", options.BosToken), ("eos_token", options.EosToken), ("pad_token", options.PadToken), ("unk_token", options.UnkToken) })
        {
            if (value is not null)
            {
                root.Vars[name] = value;
            }
        }
        if (options.Variables is not null)
        {
            foreach (var (name, value) in options.Variables)
            {
                root.Vars[name] = Py.FromDotNet(value);
            }
        }
        return new JinjaRenderer(() => clock.GetLocalNow()).Render(_nodes, root);
    }
}
