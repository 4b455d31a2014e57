using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Data.Sqlite;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Onnx;

namespace Prova.Node.Store;

/// <summary>A declared graph input or output: name, dtype and dims (number, symbolic name, or null for unknown).</summary>
public sealed record TensorSignature(string Name, string Dtype, IReadOnlyList<object?>? Shape)
{
    public static TensorSignature From(ValueInfo info) => new(
        info.Name,
        DataTypes.Name(info.ElementType),
        info.Shape?.Select(d => d.Value is long v ? v : (object?)d.Param).ToArray());
}

/// <summary>One file of a published bundle, as <c>GET /v1/models/{cid}</c> lists it.</summary>
public sealed record BundleFileInfo(string Path, long Size, string Cid);

/// <summary>
/// A published model version: the owner's signed <see cref="ModelPublication"/> plus what the node read from the content.
/// <see cref="Kind"/> is "model" (one ONNX file) or "bundle" (a folder: <see cref="Files"/> lists it; size is the sum of
/// the files, chunk size and count are 0, each file has its own).
/// </summary>
public sealed record ModelInfo(
    string Cid,
    string Name,
    string Version,
    string Description,
    string License,
    string Owner,
    ulong Timestamp,
    string Signature,
    long Size,
    int ChunkSize,
    int ChunkCount,
    long Opset,
    IReadOnlyList<TensorSignature> Inputs,
    IReadOnlyList<TensorSignature> Outputs,
    DateTimeOffset PublishedAt,
    string Kind = ModelInfo.SingleKind,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<BundleFileInfo>? Files = null)
{
    public const string SingleKind = "model";

    public const string BundleKind = "bundle";
}

/// <summary>Published models and name ownership, in the SQLite index.</summary>
public sealed class ModelCatalog
{
    private readonly StoreDatabase _db;

    public ModelCatalog(StoreDatabase db)
    {
        _db = db;
    }

    /// <summary>
    /// The published name whose normal form (<see cref="ModelName.Normalize"/>) is <paramref name="normalName"/>, with
    /// its owner: the name itself, or a look-alike stored before names had to be normal. Null when there is none.
    /// </summary>
    public (string Name, Address Owner)? NameLike(string normalName)
    {
        using var connection = _db.Open();
        return NameLike(connection, normalName, null);
    }

    /// <summary>Exact match first; otherwise a scan of the names table (one row per model name, so small).</summary>
    private static (string Name, Address Owner)? NameLike(SqliteConnection connection, string normalName, Address? except)
    {
        if (StoreDatabase.Scalar(connection, "SELECT owner FROM names WHERE name = $n", ("$n", normalName)) is string exact
            && Address.Parse(exact) != except)
        {
            return (normalName, Address.Parse(exact));
        }
        using var command = StoreDatabase.Command(connection, "SELECT name, owner FROM names ORDER BY created");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            string name = reader.GetString(0);
            var owner = Address.Parse(reader.GetString(1));
            if (owner != except && ModelName.Normalize(name) == normalName)
            {
                return (name, owner);
            }
        }
        return null;
    }

    public Address? NameOwner(string name)
    {
        using var connection = _db.Open();
        return StoreDatabase.Scalar(connection, "SELECT owner FROM names WHERE name = $n", ("$n", name)) is string owner
            ? Address.Parse(owner)
            : null;
    }

    public ModelInfo? Find(string name, string version)
    {
        using var connection = _db.Open();
        return Query(connection, "WHERE m.name = $a AND m.version = $b", ("$a", name), ("$b", version)).FirstOrDefault();
    }

    /// <summary>The earliest publication of <paramref name="cid"/>.</summary>
    public ModelInfo? Find(Cid cid)
    {
        using var connection = _db.Open();
        return Query(connection, "WHERE m.cid = $a ORDER BY m.seq LIMIT 1", ("$a", cid.ToString())).FirstOrDefault();
    }

    public IReadOnlyList<ModelInfo> List(string? name)
    {
        using var connection = _db.Open();
        return name is null
            ? Query(connection, "ORDER BY m.name, m.seq")
            : Query(connection, "WHERE m.name = $a ORDER BY m.seq", ("$a", name));
    }

    /// <summary>The distinct CIDs of published models, ordered by CID text (what the node's peer record announces).</summary>
    public IReadOnlyList<Cid> HostedModels()
    {
        using var connection = _db.Open();
        using var command = StoreDatabase.Command(connection, "SELECT DISTINCT cid FROM models ORDER BY cid");
        using var reader = command.ExecuteReader();
        var list = new List<Cid>();
        while (reader.Read())
        {
            list.Add(Cid.Parse(reader.GetString(0)));
        }
        return list;
    }

    public long CountDistinctModels()
    {
        using var connection = _db.Open();
        return (long)StoreDatabase.Scalar(connection, "SELECT COUNT(DISTINCT cid) FROM models")!;
    }

    /// <summary>
    /// Records a publication whose signature the caller verified. Returns null when the name is owned
    /// by someone else (checked again inside the transaction, so two first publishers cannot both win).
    /// </summary>
    public (ModelInfo? Info, Address? Owner, bool Conflict) TryInsert(ModelInfo info)
    {
        using var connection = _db.Open();
        using var tx = connection.BeginTransaction();
        // Another owner's name with the same normal form (the name itself, or a look-alike) blocks it, checked
        // inside the transaction so two first publishers cannot both win.
        if (NameLike(connection, ModelName.Normalize(info.Name) ?? info.Name, Address.Parse(info.Owner)) is { } other)
        {
            return (null, other.Owner, false);
        }
        if (Query(connection, "WHERE m.name = $a AND m.version = $b", ("$a", info.Name), ("$b", info.Version)).FirstOrDefault() is { } existing)
        {
            return (existing, null, existing.Cid != info.Cid);
        }
        StoreDatabase.Execute(connection, "INSERT OR IGNORE INTO names (name, owner, created) VALUES ($n, $o, $t)",
            ("$n", info.Name), ("$o", info.Owner), ("$t", info.PublishedAt.ToString("O")));
        StoreDatabase.Execute(connection, """
            INSERT INTO models (name, version, cid, description, license, owner, timestamp, signature, opset, inputs, outputs, published_at)
            VALUES ($name, $version, $cid, $d, $l, $o, $ts, $sig, $opset, $in, $out, $at)
            """,
            ("$name", info.Name), ("$version", info.Version), ("$cid", info.Cid), ("$d", info.Description), ("$l", info.License),
            ("$o", info.Owner), ("$ts", (long)info.Timestamp), ("$sig", info.Signature), ("$opset", info.Opset),
            ("$in", JsonSerializer.Serialize(info.Inputs)), ("$out", JsonSerializer.Serialize(info.Outputs)), ("$at", info.PublishedAt.ToString("O")));
        tx.Commit();
        return (info, null, false);
    }

    private static List<ModelInfo> Query(SqliteConnection connection, string where, params (string, object?)[] parameters)
    {
        using var command = StoreDatabase.Command(connection, $"""
            SELECT m.cid, m.name, m.version, m.description, m.license, m.owner, m.timestamp, m.signature,
                   b.size, b.chunk_size, b.chunk_count, m.opset, m.inputs, m.outputs, m.published_at, b.kind
            FROM models m JOIN (
                SELECT cid, size, chunk_size, chunk_count, 'model' AS kind FROM blobs
                UNION ALL SELECT cid, size, 0, 0, 'bundle' FROM bundles) b ON b.cid = m.cid {where}
            """, parameters);
        using var reader = command.ExecuteReader();
        var list = new List<ModelInfo>();
        while (reader.Read())
        {
            list.Add(new ModelInfo(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), (ulong)reader.GetInt64(6), reader.GetString(7), reader.GetInt64(8), reader.GetInt32(9),
                reader.GetInt32(10), reader.GetInt64(11), ReadSignatures(reader.GetString(12)), ReadSignatures(reader.GetString(13)),
                DateTimeOffset.Parse(reader.GetString(14), System.Globalization.CultureInfo.InvariantCulture), reader.GetString(15)));
        }
        return list;
    }

    private static IReadOnlyList<TensorSignature> ReadSignatures(string json)
    {
        using var document = JsonDocument.Parse(json);
        var list = new List<TensorSignature>();
        foreach (var e in document.RootElement.EnumerateArray())
        {
            object?[]? shape = null;
            if (e.GetProperty("Shape") is { ValueKind: JsonValueKind.Array } dims)
            {
                shape = dims.EnumerateArray().Select(d => d.ValueKind switch
                {
                    JsonValueKind.Number => d.GetInt64(),
                    JsonValueKind.String => (object?)d.GetString(),
                    _ => null,
                }).ToArray();
            }
            list.Add(new TensorSignature(e.GetProperty("Name").GetString()!, e.GetProperty("Dtype").GetString()!, shape));
        }
        return list;
    }
}
