using System.Text.Json;

namespace Prova.Lm;

/// <summary>Reads the JSON files of a bundle; every problem becomes an <see cref="LmException"/> naming the file and key.</summary>
internal static class JsonFile
{
    private static readonly JsonDocumentOptions s_options = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
        MaxDepth = 256,
    };

    /// <summary>The root object of <paramref name="path"/>, or null when the file does not exist.</summary>
    public static JsonElement? TryReadObject(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        return ReadObject(path);
    }

    public static JsonElement ReadObject(string path) => ParseObject(ReadText(path), Path.GetFileName(path));

    public static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException ex)
        {
            throw new LmException($"{Path.GetFileName(path)}: cannot be read ({ex.Message})", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new LmException($"{Path.GetFileName(path)}: cannot be read ({ex.Message})", ex);
        }
    }

    public static JsonElement ParseObject(string json, string file)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, s_options);
        }
        catch (JsonException ex)
        {
            throw new LmException($"{file}: not valid JSON ({ex.Message})", ex);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new LmException($"{file}: the top level must be a JSON object, not {doc.RootElement.ValueKind}");
        }
        return doc.RootElement;
    }

    public static JsonElement? Get(JsonElement obj, string key) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static int? Int(JsonElement obj, string key, string file)
    {
        if (Get(obj, key) is not { } v)
        {
            return null;
        }
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i))
        {
            return i;
        }
        throw new LmException($"{file}: '{key}' must be a 32-bit integer, not {Describe(v)}");
    }

    /// <summary>An integer that may be written huge (model_max_length = 1e30 means "no limit"): null above int.MaxValue.</summary>
    public static int? BoundedInt(JsonElement obj, string key, string file)
    {
        if (Get(obj, key) is not { } v)
        {
            return null;
        }
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d >= 0 && d == Math.Floor(d))
        {
            return d > int.MaxValue ? null : (int)d;
        }
        throw new LmException($"{file}: '{key}' must be a non-negative integer, not {Describe(v)}");
    }

    public static double? Double(JsonElement obj, string key, string file)
    {
        if (Get(obj, key) is not { } v)
        {
            return null;
        }
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d))
        {
            return d;
        }
        throw new LmException($"{file}: '{key}' must be a number, not {Describe(v)}");
    }

    public static bool? Bool(JsonElement obj, string key, string file)
    {
        if (Get(obj, key) is not { } v)
        {
            return null;
        }
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new LmException($"{file}: '{key}' must be true or false, not {Describe(v)}"),
        };
    }

    public static string? String(JsonElement obj, string key, string file)
    {
        if (Get(obj, key) is not { } v)
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : throw new LmException($"{file}: '{key}' must be a string, not {Describe(v)}");
    }

    /// <summary>A token written as a string or as an AddedToken object <c>{"content": "...", ...}</c>.</summary>
    public static string? Token(JsonElement obj, string key, string file)
    {
        if (Get(obj, key) is not { } v)
        {
            return null;
        }
        return TokenValue(v, $"'{key}'", file);
    }

    public static string TokenValue(JsonElement v, string what, string file)
    {
        if (v.ValueKind == JsonValueKind.String)
        {
            return v.GetString()!;
        }
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
        {
            return c.GetString()!;
        }
        throw new LmException($"{file}: {what} must be a string or an object with a string 'content', not {Describe(v)}");
    }

    /// <summary>An id written as one integer or a list of integers (eos_token_id).</summary>
    public static int[] IntOrList(JsonElement obj, string key, string file)
    {
        if (Get(obj, key) is not { } v)
        {
            return [];
        }
        if (v.ValueKind == JsonValueKind.Number)
        {
            return [Int(obj, key, file)!.Value];
        }
        if (v.ValueKind == JsonValueKind.Array)
        {
            var ids = new List<int>();
            foreach (var item in v.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var id))
                {
                    throw new LmException($"{file}: '{key}' must hold integers, not {Describe(item)}");
                }
                ids.Add(id);
            }
            return [.. ids];
        }
        throw new LmException($"{file}: '{key}' must be an integer or a list of integers, not {Describe(v)}");
    }

    public static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {v.GetRawText()}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => v.ValueKind.ToString().ToLowerInvariant(),
    };
}
