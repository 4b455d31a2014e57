using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Prova.Core.Content;

/// <summary>One file of a bundle: its relative path, its size and its CID (the CID of its <see cref="ModelManifest"/>).</summary>
public sealed record BundleFile(string Path, long Size, Cid Cid);

/// <summary>
/// A model that is a folder (ONNX graph + external data, tokenizer, configs) named by one CID
/// (docs/formats.md, "Bundle manifest"). The manifest is canonical JSON, exactly
/// <code>
/// {"format":"prova-bundle/1","files":[{"path":"config.json","size":512,"cid":"bafkrei…"},…]}
/// </code>
/// with no whitespace, the files sorted by path (ordinal; paths are ASCII), keys in this order. Each
/// file's CID is the CID of its chunk manifest, exactly as for a single-file model, so every chunk of
/// every file is verified on its own. The bundle's CID is <c>Cid.ForBytes(manifest bytes)</c> (raw
/// codec, sha2-256), like a single model's; the bytes themselves say which one a CID names
/// (<c>PROVAMF1</c> for a chunk manifest, <c>{"format":"prova-bundle/1"</c> for a bundle).
/// Decoding accepts only the canonical bytes: one bundle, one byte string, one CID.
/// </summary>
public sealed class BundleManifest
{
    public const string Format = "prova-bundle/1";

    /// <summary>Most files in one bundle.</summary>
    public const int MaxFiles = 4096;

    /// <summary>Longest relative path, in characters (ASCII, so also bytes).</summary>
    public const int MaxPathLength = 255;

    /// <summary>Longest single path segment.</summary>
    public const int MaxSegmentLength = 128;

    /// <summary>Most directory levels in a path (segments).</summary>
    public const int MaxDepth = 16;

    /// <summary>Largest encoded manifest accepted by <see cref="Decode"/>.</summary>
    public const int MaxEncodedBytes = 4 << 20;

    private static ReadOnlySpan<byte> Prefix => "{\"format\":\"prova-bundle/1\""u8;

    private readonly BundleFile[] _files;
    private readonly byte[] _encoded;

    private BundleManifest(BundleFile[] files, byte[] encoded)
    {
        _files = files;
        _encoded = encoded;
        Cid = Cid.ForBytes(encoded);
        long total = 0;
        foreach (var f in files)
        {
            total += f.Size;
        }
        Size = total;
    }

    /// <summary>The files, sorted by path (ordinal).</summary>
    public IReadOnlyList<BundleFile> Files => _files;

    /// <summary>The bundle's CID: sha2-256 of <see cref="Encode"/>, raw codec.</summary>
    public Cid Cid { get; }

    /// <summary>Sum of the files' sizes.</summary>
    public long Size { get; }

    /// <summary>The canonical bytes (a fresh copy).</summary>
    public byte[] Encode() => (byte[])_encoded.Clone();

    /// <summary>The file at <paramref name="path"/>, or null.</summary>
    public BundleFile? Find(string path)
    {
        int lo = 0, hi = _files.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = string.CompareOrdinal(_files[mid].Path, path);
            if (c == 0)
            {
                return _files[mid];
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return null;
    }

    /// <summary>True when <paramref name="bytes"/> start like a bundle manifest (and so are not a chunk manifest).</summary>
    public static bool LooksLikeBundle(ReadOnlySpan<byte> bytes) => bytes.StartsWith(Prefix);

    /// <summary>
    /// Builds the manifest of <paramref name="files"/> (any order). Throws <see cref="ContentFormatException"/>
    /// naming the first path that breaks the rules (<see cref="CheckPath"/>), a duplicate, a negative size or
    /// a CID that is not a raw sha2-256 CID.
    /// </summary>
    public static BundleManifest Create(IEnumerable<BundleFile> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var sorted = files.ToArray();
        if (sorted.Length == 0)
        {
            throw new ContentFormatException("malformed bundle: it has no files");
        }
        if (sorted.Length > MaxFiles)
        {
            throw new ContentFormatException($"malformed bundle: {sorted.Length} files, more than the {MaxFiles} allowed");
        }
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Path, b.Path));
        long total = 0;
        var folded = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < sorted.Length; i++)
        {
            var f = sorted[i];
            if (CheckPath(f.Path) is { } problem)
            {
                throw new ContentFormatException($"malformed bundle: path '{Shorten(f.Path)}' {problem}");
            }
            if (f.Size < 0)
            {
                throw new ContentFormatException($"malformed bundle: '{f.Path}' has a negative size");
            }
            if (f.Cid.Codec != Cid.RawCodec)
            {
                throw new ContentFormatException($"malformed bundle: the CID of '{f.Path}' is not a raw (0x55) CID of a chunk manifest");
            }
            if (total > long.MaxValue / 2 - f.Size)
            {
                throw new ContentFormatException("malformed bundle: the files' sizes add up to more than 2^62 bytes");
            }
            total += f.Size;
            if (i > 0 && sorted[i - 1].Path == f.Path)
            {
                throw new ContentFormatException($"malformed bundle: '{f.Path}' is listed twice");
            }
            // Paths that differ only in case collide on case-insensitive file systems (macOS, Windows).
            if (!folded.Add(f.Path))
            {
                throw new ContentFormatException($"malformed bundle: '{f.Path}' differs from another path only in letter case");
            }
        }
        // A path cannot be a file and a directory at once ("a" and "a/b"), and one directory cannot be
        // spelled two ways ("A/x" and "a/y"): either breaks materialising the bundle as a folder.
        var directories = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var f in sorted)
        {
            for (int slash = f.Path.IndexOf('/'); slash > 0; slash = f.Path.IndexOf('/', slash + 1))
            {
                string dir = f.Path[..slash];
                if (directories.TryGetValue(dir, out string? spelled) && spelled != dir)
                {
                    throw new ContentFormatException($"malformed bundle: the directories '{spelled}' and '{dir}' differ only in letter case");
                }
                directories[dir] = dir;
            }
        }
        foreach (var f in sorted)
        {
            if (directories.TryGetValue(f.Path, out string? dir))
            {
                throw new ContentFormatException($"malformed bundle: '{f.Path}' is a file but '{dir}/…' uses it as a directory");
            }
        }
        return new BundleManifest(sorted, EncodeCore(sorted));
    }

    /// <summary>
    /// Why <paramref name="path"/> is not a valid bundle path, or null when it is. A path is 1–255 ASCII
    /// characters: 1–16 segments joined by '/', each 1–128 characters of <c>A-Z a-z 0-9 . _ - +</c>, not
    /// starting with '.' (so no '.', '..', hidden files or the materialisation marker). So no absolute paths,
    /// no backslashes, no drive letters, no empty segments and no trailing '/'.
    /// </summary>
    public static string? CheckPath(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "is empty";
        }
        if (path.Length > MaxPathLength)
        {
            return $"is longer than {MaxPathLength} characters";
        }
        if (path[0] == '/')
        {
            return "is absolute (it starts with '/')";
        }
        if (path.Contains('\\'))
        {
            return "contains a backslash (use '/')";
        }
        int depth = 0;
        foreach (var range in path.AsSpan().Split('/'))
        {
            var segment = path.AsSpan()[range];
            depth++;
            if (segment.IsEmpty)
            {
                return "has an empty segment ('//' or a trailing '/')";
            }
            if (segment is ".." or ".")
            {
                return $"has a '{segment}' segment";
            }
            if (segment[0] == '.')
            {
                return $"has a segment starting with '.' ('{segment}')";
            }
            if (segment.Length > MaxSegmentLength)
            {
                return $"has a segment longer than {MaxSegmentLength} characters";
            }
            foreach (char c in segment)
            {
                if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '.' or '_' or '-' or '+'))
                {
                    return c is < ' ' or > '~'
                        ? $"contains the character U+{(int)c:X4} (allowed: A-Z a-z 0-9 . _ - + and '/' between segments)"
                        : $"contains '{c}' (allowed: A-Z a-z 0-9 . _ - + and '/' between segments)";
                }
            }
        }
        return depth > MaxDepth ? $"is more than {MaxDepth} levels deep" : null;
    }

    /// <summary>Parses the canonical encoding, refusing anything else with <see cref="ContentFormatException"/>.</summary>
    public static BundleManifest Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxEncodedBytes)
        {
            throw new ContentFormatException($"malformed bundle: the manifest is {bytes.Length} bytes, more than {MaxEncodedBytes}");
        }
        if (!LooksLikeBundle(bytes))
        {
            throw new ContentFormatException("malformed bundle: it does not start with {\"format\":\"prova-bundle/1\"");
        }
        var files = new List<BundleFile>();
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 4 });
            Expect(ref reader, JsonTokenType.StartObject);
            ExpectProperty(ref reader, "format");
            Expect(ref reader, JsonTokenType.String);
            ExpectProperty(ref reader, "files");
            Expect(ref reader, JsonTokenType.StartArray);
            while (true)
            {
                Read(ref reader);
                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    break;
                }
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw new ContentFormatException($"malformed bundle: file entry {files.Count} is not an object");
                }
                if (files.Count == MaxFiles)
                {
                    throw new ContentFormatException($"malformed bundle: more than {MaxFiles} files");
                }
                ExpectProperty(ref reader, "path");
                Expect(ref reader, JsonTokenType.String);
                string path = reader.GetString()!;
                ExpectProperty(ref reader, "size");
                Expect(ref reader, JsonTokenType.Number);
                if (!reader.TryGetInt64(out long size))
                {
                    throw new ContentFormatException($"malformed bundle: the size of file entry {files.Count} is not a 64-bit integer");
                }
                ExpectProperty(ref reader, "cid");
                Expect(ref reader, JsonTokenType.String);
                string cidText = reader.GetString()!;
                if (!Cid.TryParse(cidText, out var cid, out string? problem))
                {
                    throw new ContentFormatException($"malformed bundle: the CID of file entry {files.Count} is not a CID: {problem}");
                }
                Expect(ref reader, JsonTokenType.EndObject);
                files.Add(new BundleFile(path, size, cid));
            }
            Expect(ref reader, JsonTokenType.EndObject);
            if (reader.Read())
            {
                throw new ContentFormatException("malformed bundle: bytes after the manifest");
            }
        }
        catch (JsonException ex)
        {
            throw new ContentFormatException($"malformed bundle: not valid JSON ({ex.Message})");
        }
        catch (InvalidOperationException ex)
        {
            // Strings that are not valid UTF-8.
            throw new ContentFormatException($"malformed bundle: {ex.Message}");
        }
        var manifest = Create(files);
        if (!bytes.SequenceEqual(manifest._encoded))
        {
            throw new ContentFormatException("malformed bundle: the manifest is not in canonical form (files sorted by path, no whitespace, no escapes, keys in order)");
        }
        return manifest;
    }

    private static void Read(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new ContentFormatException("malformed bundle: it ends early");
        }
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        Read(ref reader);
        if (reader.TokenType != type)
        {
            throw new ContentFormatException($"malformed bundle: expected {type} at byte {reader.TokenStartIndex}, found {reader.TokenType}");
        }
    }

    private static void ExpectProperty(ref Utf8JsonReader reader, string name)
    {
        Expect(ref reader, JsonTokenType.PropertyName);
        if (!reader.ValueTextEquals(name))
        {
            throw new ContentFormatException($"malformed bundle: expected property \"{name}\" at byte {reader.TokenStartIndex}");
        }
    }

    private static byte[] EncodeCore(BundleFile[] files)
    {
        // Paths are checked ASCII without characters JSON escapes, CIDs are base32: plain concatenation is canonical.
        var buffer = new ArrayBufferWriter<byte>(64 + files.Length * 120);
        var text = new StringBuilder();
        text.Append("{\"format\":\"").Append(Format).Append("\",\"files\":[");
        for (int i = 0; i < files.Length; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }
            text.Append("{\"path\":\"").Append(files[i].Path).Append("\",\"size\":")
                .Append(files[i].Size.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Append(",\"cid\":\"").Append(files[i].Cid.ToString()).Append("\"}");
        }
        text.Append("]}");
        Encoding.ASCII.GetBytes(text.ToString(), buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static string Shorten(string text) => text.Length > 80 ? text[..77] + "..." : text;
}
