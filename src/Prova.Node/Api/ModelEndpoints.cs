using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Node.Hosting;
using Prova.Node.Network;
using Prova.Node.Store;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Node.Api;

/// <summary>Publish, list, describe and download models (docs/node-api.md).</summary>
internal static partial class ModelEndpoints
{
    public sealed record PublishRequest(string Cid, string Name, string Version, string? Description, string? License, string Owner, ulong Timestamp, string Signature);

    public sealed record ModelList(string Object, IReadOnlyList<ModelInfo> Data);

    private static readonly JsonDocumentOptions s_json = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")]
    private static partial Regex VersionPattern();

    public static void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/models").WithTags("models");
        group.MapPost("/", Publish).WithSummary("Publish a version of a model (owner-signed)")
            .Accepts<PublishRequest>("application/json").Produces<ModelInfo>(201).Produces<ModelInfo>(200);
        group.MapGet("/", List).WithSummary("List published models").Produces<ModelList>();
        group.MapGet("/{cid}", Get).WithSummary("Metadata of a model").Produces<ModelInfo>();
        group.MapGet("/{cid}/manifest", Manifest).WithSummary("The manifest bytes").Produces<byte[]>(200, "application/octet-stream");
        group.MapGet("/{cid}/chunks/{index}", Chunk).WithSummary("One verified chunk").Produces<byte[]>(200, "application/octet-stream");
        group.MapGet("/{cid}/content", Content).WithSummary("The whole content (Range supported)").Produces<byte[]>(200, "application/octet-stream")
            .DisableRequestTimeout();
    }

    private static async Task<IResult> Publish(HttpContext context, ContentStore store, ModelCatalog catalog, NodeIdentity identity,
        IOptions<NodeOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        byte[] body = await Body.ReadAsync(context, options.Value.MaxRequestBytes, "MaxRequestBytes", "the request body");
        var request = ParsePublish(body);
        var (info, created) = PublishVerified(request, store, catalog, identity, options.Value, time, loggers.CreateLogger("Prova.Node.Models"));
        return created ? Results.Created($"/v1/models/{info.Cid}", info) : Results.Ok(info);
    }

    /// <summary>
    /// Checks a publication (rules, owner signature, name ownership, complete and loadable content) and
    /// records it; used by <c>POST /v1/models</c> and by replication. Returns the stored metadata and
    /// whether it is new. Throws <see cref="ApiException"/> naming the problem.
    /// </summary>
    internal static (ModelInfo Info, bool Created) PublishVerified(PublishRequest request, ContentStore store, ModelCatalog catalog, NodeIdentity identity,
        NodeOptions options, TimeProvider time, ILogger logger)
    {
        var cid = BlobEndpoints.ParseCid(request.Cid);
        using var pin = store.Pin(cid);
        if (!Address.TryParse(request.Owner, out var owner))
        {
            throw ApiException.BadRequest($"\"owner\" is not an address (0x + 40 hex digits with a valid EIP-55 checksum)");
        }
        if (!Signature.TryParse(request.Signature, out var signature))
        {
            throw ApiException.BadRequest("\"signature\" is not a 65-byte signature (0x + 130 hex digits, v = 27 or 28)");
        }
        string description = request.Description ?? "";
        string license = request.License ?? "";
        string? problem =
            ModelName.Problem(request.Name) is { } nameProblem ? NameProblem(request.Name, nameProblem, owner, catalog)
            : !VersionPattern().IsMatch(request.Version) ? "\"version\" must be 1-64 characters of A-Z a-z 0-9 . _ - + starting with a letter or digit"
            : description.Length > 4096 ? "\"description\" is longer than 4096 characters"
            : license.Length > 128 ? "\"license\" is longer than 128 characters"
            : request.Timestamp > (ulong)time.GetUtcNow().AddDays(1).ToUnixTimeSeconds() ? "\"timestamp\" is more than a day in the future"
            : null;
        if (problem is not null)
        {
            throw new ApiException(422, "invalid-publication", problem);
        }
        var publication = new ModelPublication(request.Name, request.Version, cid, owner, request.Timestamp);
        var check = publication.Verify(signature, identity.ChainId, identity.VerifyingContract);
        if (!check.IsValid)
        {
            throw new ApiException(401, "bad-signature", $"the publication's signature is not the owner's: {check.Message} (sign ModelPublication in the Prova domain with chainId {identity.ChainId})");
        }
        if (catalog.NameLike(request.Name) is { } taken && taken.Owner != owner)
        {
            throw NameOwned(request.Name, taken.Name, taken.Owner);
        }
        var info = store.Bundle(cid) is { } bundle
            ? BundleInfo(bundle, store, options)
            : SingleInfo(cid, store, options);
        info = info with
        {
            Cid = cid.ToString(),
            Name = request.Name,
            Version = request.Version,
            Description = description,
            License = license,
            Owner = owner.ToString(),
            Timestamp = request.Timestamp,
            Signature = signature.ToString(),
            PublishedAt = time.GetUtcNow(),
        };
        var (stored, otherOwner, conflict) = catalog.TryInsert(info);
        if (otherOwner is { } o)
        {
            throw NameOwned(request.Name, catalog.NameLike(request.Name)?.Name ?? request.Name, o);
        }
        if (conflict)
        {
            throw new ApiException(409, "version-exists", $"{request.Name} {request.Version} is already published as {stored!.Cid}; publish a new version");
        }
        if (ReferenceEquals(stored, info))
        {
            Log.Published(logger, info.Name, info.Version, info.Cid, owner);
            return (info, true);
        }
        return (WithFiles(stored!, store), false);
    }

    /// <summary>What the node reads from complete single-file content: size, chunks and the ONNX signature.</summary>
    private static ModelInfo SingleInfo(Cid cid, ContentStore store, NodeOptions options)
    {
        var status = store.Status(cid) ?? throw BlobEndpoints.UnknownBlob(cid);
        if (!status.Complete)
        {
            throw new ApiException(409, "incomplete-content", $"content {cid} still misses {status.Missing.Length} of {status.Manifest.ChunkCount} chunks",
                new Dictionary<string, object?> { ["missing"] = status.Missing.Length });
        }
        if (status.Manifest.Size > options.MaxModelBytes)
        {
            throw ApiException.TooLarge("MaxModelBytes", options.MaxModelBytes, $"the model ({status.Manifest.Size} bytes)");
        }
        OnnxModel model;
        try
        {
            model = OnnxLoader.Load(store.ReadAll(status.Manifest), baseDirectory: null, new LoadOptions { MaxModelBytes = options.MaxModelBytes });
            // A node missing a required input (or with too many) is not valid ONNX: refuse it now, naming the node,
            // rather than publish a model every inference of which would fail.
            KernelRegistry.CheckArity(model);
        }
        catch (ProvaException ex)
        {
            throw new ApiException(422, "invalid-onnx", $"the content is not a loadable ONNX model: {ex.Message}");
        }
        return new ModelInfo(
            "", "", "", "", "", "", 0, "",
            status.Manifest.Size, status.Manifest.ChunkSize, status.Manifest.ChunkCount, model.Opset,
            model.Graph.Inputs.Where(i => !model.Graph.Initializers.ContainsKey(i.Name)).Select(TensorSignature.From).ToArray(),
            model.Graph.Outputs.Select(TensorSignature.From).ToArray(),
            default);
    }

    /// <summary>
    /// A bundle publishes when every file is complete and has the size the bundle lists. The node does not load
    /// its ONNX (an LM's graph needs its external data; consumers open the folder): opset 0, no inputs or outputs.
    /// </summary>
    private static ModelInfo BundleInfo(BundleManifest bundle, ContentStore store, NodeOptions options)
    {
        if (bundle.Size > options.MaxBundleBytes)
        {
            throw ApiException.TooLarge("MaxBundleBytes", options.MaxBundleBytes, $"the bundle ({bundle.Size} bytes)");
        }
        int incomplete = 0;
        string? first = null;
        foreach (var f in bundle.Files)
        {
            var status = store.Status(f.Cid);
            if (status is not null && status.Manifest.Size != f.Size)
            {
                throw new ApiException(422, "invalid-manifest", $"'{f.Path}' is listed with {f.Size} bytes but its CID {f.Cid} names {status.Manifest.Size} bytes");
            }
            if (status is not { Complete: true })
            {
                incomplete++;
                first ??= status is null ? $"'{f.Path}' was never announced" : $"'{f.Path}' misses {status.Missing.Length} of {status.Manifest.ChunkCount} chunks";
            }
        }
        if (incomplete > 0)
        {
            throw new ApiException(409, "incomplete-content", $"bundle {bundle.Cid}: {incomplete} of {bundle.Files.Count} files are incomplete ({first})",
                new Dictionary<string, object?> { ["missing"] = incomplete });
        }
        return new ModelInfo("", "", "", "", "", "", 0, "", bundle.Size, 0, 0, 0, [], [], default, ModelInfo.BundleKind, Files(bundle));
    }

    private static BundleFileInfo[] Files(BundleManifest bundle) =>
        bundle.Files.Select(f => new BundleFileInfo(f.Path, f.Size, f.Cid.ToString())).ToArray();

    /// <summary>Adds the file list to a bundle's metadata.</summary>
    internal static ModelInfo WithFiles(ModelInfo info, ContentStore store) =>
        info.Kind == ModelInfo.BundleKind && info.Files is null && Cid.TryParse(info.Cid, out var cid) && store.Bundle(cid) is { } bundle
            ? info with { Files = Files(bundle) }
            : info;

    private static ApiException NameOwned(string name, string existing, Address owner) =>
        new(403, "name-owned", existing == name
                ? $"the name '{name}' belongs to {owner}; only its owner can publish versions of it"
                : $"the name '{name}' is a look-alike of the model '{existing}' of {owner} (the same normal form); only its owner can publish under it",
            new Dictionary<string, object?> { ["owner"] = owner.ToString(), ["existing"] = existing });

    /// <summary>A name that is not normal, with its normal form's owner when someone publishes under it already.</summary>
    private static string NameProblem(string name, string problem, Address owner, ModelCatalog catalog)
    {
        if (ModelName.Normalize(name) is not { } normal || catalog.NameLike(normal) is not { } existing)
        {
            return problem;
        }
        return existing.Owner == owner
            ? $"{problem}; you already publish the model '{existing.Name}'"
            : $"{problem}; the model '{existing.Name}' is {existing.Owner}'s, so the name is taken";
    }

    private static PublishRequest ParsePublish(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body, s_json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"the body should be a JSON object, not {root.ValueKind}");
            }
            return new PublishRequest(
                RequiredString(root, "cid"), RequiredString(root, "name"), RequiredString(root, "version"),
                OptionalString(root, "description"), OptionalString(root, "license"), RequiredString(root, "owner"),
                root.TryGetProperty("timestamp", out var ts) && ts.ValueKind == JsonValueKind.Number && ts.TryGetUInt64(out ulong t)
                    ? t
                    : throw ApiException.BadRequest("\"timestamp\" must be an unsigned integer (unix seconds)"),
                RequiredString(root, "signature"));
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            // JsonElement.GetString on a string that is not valid UTF-8.
            throw ApiException.BadRequest("the body contains a string that is not valid UTF-8");
        }
    }

    internal static string RequiredString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw ApiException.BadRequest($"\"{name}\" must be a string");

    private static string? OptionalString(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null
            ? null
            : value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : throw ApiException.BadRequest($"\"{name}\" must be a string");

    /// <summary>
    /// The OpenAI list object, <c>{"object": "list", "data": [...]}</c>, each entry a <see cref="ModelObject"/>, so OpenAI
    /// clients and the Prova SDK read one layout (docs/node-api.md).
    /// </summary>
    private static IResult List(string? name, ModelCatalog catalog, ContentStore store)
    {
        var data = new JsonArray();
        foreach (var m in catalog.List(name))
        {
            if (Cid.TryParse(m.Cid, out var cid) && store.IsDamaged(cid))
            {
                // Withdrawn until repaired (docs/network.md, "Self-healing").
                continue;
            }
            data.Add(ModelObject(WithFiles(m, store)));
        }
        return Results.Json(new JsonObject { ["object"] = "list", ["data"] = data });
    }

    /// <summary>
    /// OpenAI's model object (<c>id</c> = the CID, <c>object</c> "model", <c>created</c> = the signed publication timestamp,
    /// <c>owned_by</c> = the owner's address) followed by Prova's metadata of the version.
    /// </summary>
    private static JsonObject ModelObject(ModelInfo info)
    {
        var entry = new JsonObject
        {
            ["id"] = info.Cid,
            ["object"] = "model",
            ["created"] = info.Timestamp,
            ["owned_by"] = info.Owner,
        };
        foreach (var (key, value) in JsonSerializer.SerializeToNode(info, JsonSerializerOptions.Web)!.AsObject())
        {
            entry[key] = value?.DeepClone();
        }
        return entry;
    }

    private static IResult Get(string cid, ModelCatalog catalog, ContentStore store)
    {
        var parsed = BlobEndpoints.ParseCid(cid);
        return Results.Json(ModelObject(WithFiles(catalog.Find(parsed) ?? throw ApiException.UnknownModel(parsed.ToString()), store)));
    }

    /// <summary>True when <paramref name="cid"/> is published here, or is a file of a bundle published here.</summary>
    internal static bool IsServed(Cid cid, ContentStore store, ModelCatalog catalog) =>
        catalog.Find(cid) is not null || store.BundlesContaining(cid).Any(b => catalog.Find(b) is not null);

    /// <summary>The chunk manifest of served single-file content (a published model or a file of a published bundle).</summary>
    private static ModelManifest Published(string cid, ContentStore store, ModelCatalog catalog)
    {
        var parsed = BlobEndpoints.ParseCid(cid);
        if (!IsServed(parsed, store, catalog))
        {
            throw ApiException.UnknownModel(parsed.ToString());
        }
        if (store.Bundle(parsed) is not null)
        {
            throw new ApiException(404, "not-found", $"{parsed} is a bundle: it has no chunks of its own; GET /v1/models/{parsed} lists its files, each fetched by its own CID");
        }
        return store.Manifest(parsed) ?? throw ApiException.UnknownModel(parsed.ToString());
    }

    /// <summary>The manifest bytes: a chunk manifest, or for a bundle the bundle manifest (both hash to the CID).</summary>
    private static IResult Manifest(string cid, ContentStore store, ModelCatalog catalog)
    {
        var parsed = BlobEndpoints.ParseCid(cid);
        if (catalog.Find(parsed) is not null && store.Bundle(parsed) is { } bundle)
        {
            return Results.Bytes(bundle.Encode(), "application/octet-stream");
        }
        return Results.Bytes(Published(cid, store, catalog).Encode(), "application/octet-stream");
    }

    private static IResult Chunk(string cid, string index, ContentStore store, ModelCatalog catalog, FaultInjector faults)
    {
        var manifest = Published(cid, store, catalog);
        int i = BlobEndpoints.ParseIndex(index, manifest);
        byte[] chunk = store.ReadChunk(manifest, i);
        return Results.Bytes(faults.Faults.CorruptChunks ? FaultInjector.Corrupt(chunk) : chunk, "application/octet-stream");
    }

    private static async Task Content(string cid, HttpContext context, ContentStore store, ModelCatalog catalog, FaultInjector faults)
    {
        var manifest = Published(cid, store, catalog);
        if (store.Status(manifest.Cid) is { Complete: false } status)
        {
            throw new ApiException(409, "incomplete-content", $"{status.Missing.Length} chunks of {manifest.Cid} are missing on this node (dropped after failing an integrity check); push the model again to repair it",
                new Dictionary<string, object?> { ["missing"] = status.Missing.Length });
        }
        long size = manifest.Size;
        long start = 0, end = size - 1;
        var response = context.Response;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.ETag = $"\"{manifest.Cid}\"";
        var range = context.Request.GetTypedHeaders().Range;
        bool partial = false;
        if (range is { Ranges.Count: 1 } && range.Unit.Equals("bytes", StringComparison.OrdinalIgnoreCase))
        {
            var r = range.Ranges.First();
            if (r.From is long from)
            {
                start = from;
                end = r.To is long to ? Math.Min(to, size - 1) : size - 1;
            }
            else if (r.To is long suffix)
            {
                start = Math.Max(0, size - suffix);
            }
            if (start >= size || start > end)
            {
                response.Headers.ContentRange = $"bytes */{size}";
                throw new ApiException(416, "range-not-satisfiable", $"the range is outside the content's {size} bytes");
            }
            partial = true;
        }
        response.ContentType = "application/octet-stream";
        response.ContentLength = size == 0 ? 0 : end - start + 1;
        if (partial)
        {
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {start}-{end}/{size}";
        }
        if (size == 0 || HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }
        int first = (int)(start / manifest.ChunkSize), last = (int)(end / manifest.ChunkSize);
        for (int i = first; i <= last; i++)
        {
            byte[] chunk = store.ReadChunk(manifest, i);
            if (faults.Faults.CorruptChunks)
            {
                chunk = FaultInjector.Corrupt(chunk);
            }
            long offset = manifest.ChunkOffset(i);
            int from = (int)Math.Max(0, start - offset);
            int to = (int)Math.Min(chunk.Length - 1, end - offset);
            await response.Body.WriteAsync(chunk.AsMemory(from, to - from + 1), context.RequestAborted);
        }
    }
}
