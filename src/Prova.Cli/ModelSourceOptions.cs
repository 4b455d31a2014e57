using System.CommandLine;
using Prova.Core.Content;
using Prova.Sdk;

namespace Prova.Cli;

/// <summary>
/// Where a command that re-executes a model gets it: <c>--model file</c>, <c>--store D</c> (a node's data
/// directory) or <c>--node URL</c> (pulled chunk by chunk, each verified against the CID).
/// </summary>
internal sealed class ModelSourceOptions
{
    public Option<string?> Model { get; } = new("--model") { Description = "The ONNX model file: check its CID and re-execute it, comparing outputs bit for bit (for a proof result: derive the verifying key from it and check the proof; for a generation: the bundle folder, re-run token by token).", HelpName = "file|DIR" };

    public Option<string?> Store { get; } = new("--store") { Description = "A node data directory to take the model from (for re-execution).", HelpName = "D" };

    public Option<string?> Node { get; } = new("--node") { Description = "A node to pull the model from (verified chunk by chunk against its CID) for re-execution.", HelpName = "URL" };

    public IEnumerable<Option> All => [Model, Store, Node];

    /// <summary>The model's bytes and a description of where they came from; (null, null) when no source was given.</summary>
    public (byte[]? Bytes, string? Source) Resolve(ParseResult parse, Cid? cid)
    {
        if (parse.GetValue(Model) is { } path)
        {
            if (!File.Exists(path))
            {
                throw new CliException($"model file '{path}' does not exist");
            }
            return (File.ReadAllBytes(path), path);
        }
        if (parse.GetValue(Store) is { } storeDir && cid is { } c1)
        {
            return (ResultVerifier.ReadFromStore(storeDir, c1) ?? throw new CliException($"the store {storeDir} does not hold model {c1}"), $"store {storeDir}");
        }
        if (parse.GetValue(Node) is { } url && cid is { } c2)
        {
            return (Pull(url, c2), $"node {url}");
        }
        return (null, null);
    }

    /// <summary>
    /// <paramref name="options"/> with the model to re-execute: for a generation its folder (<see cref="ResolveFolder"/>),
    /// otherwise its bytes (<see cref="Resolve"/>); and where it came from (null when no source has it).
    /// </summary>
    public (ResultVerifierOptions Options, string? Source) Apply(ParseResult parse, Cid? cid, bool generation, ResultVerifierOptions options)
    {
        if (generation)
        {
            var (folder, folderSource) = ResolveFolder(parse, cid);
            return (options with { ModelPath = folder }, folderSource);
        }
        var (bytes, source) = Resolve(parse, cid);
        return (bytes is null ? options : options with { ModelBytes = bytes }, source);
    }

    /// <summary>
    /// A language model's folder for re-running a generation: <c>--model</c> (a bundle folder or a model file), <c>--store D</c>
    /// or <c>--node URL</c> (written to the cache, every chunk verified), else the cache when it already holds the CID;
    /// (null, null) when none has it. The folder's CID is checked again by the verifier.
    /// </summary>
    public (string? Path, string? Source) ResolveFolder(ParseResult parse, Cid? cid)
    {
        if (parse.GetValue(Model) is { } path)
        {
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                throw new CliException($"model '{path}' does not exist (give the bundle folder or its model file)");
            }
            return (path, path);
        }
        if (cid is not { } c)
        {
            return (null, null);
        }
        string? storeDir = parse.GetValue(Store);
        string? url = parse.GetValue(Node);
        if (storeDir is null && url is null)
        {
            string cached = Path.Combine(ModelFolders.DefaultCacheDirectory, c.ToString());
            return ModelFolder.IsComplete(cached, c) ? (cached, $"cache {cached}") : (null, null);
        }
        string folder = "";
        NetworkOptions.Run(async ct =>
        {
            using var client = url is null ? null : NetworkOptions.Client(url);
            folder = await ModelFolders.ResolveAsync(c, storeDirectory: storeDir, client: client, cancellationToken: ct);
            return 0;
        });
        return (folder, storeDir is not null ? $"store {storeDir}" : $"node {url}");
    }

    private static byte[] Pull(string url, Cid cid)
    {
        byte[] bytes = [];
        NetworkOptions.Run(async ct =>
        {
            using var client = NetworkOptions.Client(url);
            string temp = Path.Combine(Path.GetTempPath(), $"prova-verify-{Guid.NewGuid():N}.onnx");
            try
            {
                await client.PullAsync(cid, temp, cancellationToken: ct);
                bytes = await File.ReadAllBytesAsync(temp, ct);
            }
            finally
            {
                File.Delete(temp);
            }
            return 0;
        });
        return bytes;
    }
}
