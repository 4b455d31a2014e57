using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;

namespace Prova.Core.Network;

/// <summary>A peer record is malformed, badly signed, stale or from the future.</summary>
public sealed class PeerRecordException(string message) : ProvaException(message);

/// <summary>
/// What a node says about itself (docs/network.md, "Peer records"): its address, the URL it answers
/// at, the models it hosts and when it said so, signed with its node key (EIP-191 personal_sign over
/// <c>prova-peer\n&lt;address&gt;\n&lt;url&gt;\n&lt;timestamp&gt;\n&lt;cid1&gt;,&lt;cid2&gt;,…</c>, CIDs sorted ordinal).
/// </summary>
public sealed record PeerRecord(Address Address, string Url, IReadOnlyList<Cid> Models, ulong Timestamp, Signature Signature)
{
    /// <summary>Most models one record may list.</summary>
    public const int MaxModels = 1024;

    /// <summary>Most peers a <c>GET /v1/peers</c> answer may list.</summary>
    public const int MaxPeersInList = 256;

    /// <summary>Longest URL.</summary>
    public const int MaxUrlLength = 256;

    /// <summary>Largest announce body (one record).</summary>
    public const int MaxRecordBytes = 128 * 1024;

    /// <summary>Largest <c>GET /v1/peers</c> body a node reads from a peer.</summary>
    public const int MaxListBytes = 16 * 1024 * 1024;

    /// <summary>A record may be dated at most this far in the future (clock skew).</summary>
    public const int MaxFutureSeconds = 60;

    /// <summary>Signs a fresh record for <paramref name="key"/>.</summary>
    public static PeerRecord Create(PrivateKey key, string url, IEnumerable<Cid> models, ulong timestamp)
    {
        var sorted = Sort(models);
        string text = SigningText(key.Address, url, timestamp, sorted);
        return new PeerRecord(key.Address, url, sorted, timestamp, Eip191.SignPersonalMessage(key, text));
    }

    /// <summary>The exact UTF-8 text that is signed.</summary>
    public static string SigningText(Address address, string url, ulong timestamp, IEnumerable<Cid> models) =>
        string.Create(CultureInfo.InvariantCulture,
            $"prova-peer\n{address}\n{url}\n{timestamp}\n{string.Join(',', models.Select(m => m.ToString()).Order(StringComparer.Ordinal))}");

    public string SigningText() => SigningText(Address, Url, Timestamp, Models);

    /// <summary>True when the signature recovers to <see cref="Address"/> (age not checked: see <see cref="Verify"/>).</summary>
    public bool IsSignatureValid() => Eip191.VerifyPersonalMessage(Encoding.UTF8.GetBytes(SigningText()), Signature, Address);

    public bool Hosts(Cid cid) => Models.Contains(cid);

    /// <summary>Checks signature and age against <paramref name="now"/> (unix seconds); throws <see cref="PeerRecordException"/> naming the problem.</summary>
    public void Verify(ulong now, int maxAgeSeconds)
    {
        if (Timestamp > now + MaxFutureSeconds)
        {
            throw new PeerRecordException($"the record of {Address} is dated {Timestamp - now} s in the future (at most {MaxFutureSeconds} s allowed)");
        }
        if (Timestamp + (ulong)maxAgeSeconds < now)
        {
            throw new PeerRecordException($"the record of {Address} is stale ({now - Timestamp} s old, at most {maxAgeSeconds} s allowed)");
        }
        if (!IsSignatureValid())
        {
            throw new PeerRecordException($"the record's signature is not {Address}'s (EIP-191 over the peer text, docs/network.md)");
        }
    }

    public static bool IsValidUrl(string? url) =>
        url is { Length: > 0 and <= MaxUrlLength }
        && HttpUrl.TryParse(url, out var uri)
        && uri.PathAndQuery == "/" && string.IsNullOrEmpty(uri.UserInfo) && !url.EndsWith('/') && uri.Fragment.Length == 0;

    /// <summary>Normalises a seed or listening URL: no trailing slash.</summary>
    public static string NormaliseUrl(string url) => url.TrimEnd('/');

    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("address", Address.ToString());
        writer.WriteString("url", Url);
        writer.WriteStartArray("models");
        foreach (var m in Models)
        {
            writer.WriteStringValue(m.ToString());
        }
        writer.WriteEndArray();
        writer.WriteNumber("timestamp", Timestamp);
        writer.WriteString("signature", Signature.ToString());
        writer.WriteEndObject();
    }

    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a record's fields (no signature check: see <see cref="Verify"/>).</summary>
    public static PeerRecord FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new PeerRecordException($"a peer record must be a JSON object, not {e.ValueKind}");
        }
        string addressText = String(e, "address");
        if (!Address.TryParse(addressText, out var address))
        {
            throw new PeerRecordException("\"address\" is not an EIP-55 address");
        }
        string url = String(e, "url");
        if (!IsValidUrl(url))
        {
            throw new PeerRecordException($"\"url\" must be an http(s)://HOST:PORT URL of at most {MaxUrlLength} characters without a path");
        }
        if (!e.TryGetProperty("models", out var models) || models.ValueKind != JsonValueKind.Array)
        {
            throw new PeerRecordException("\"models\" must be an array of CIDs");
        }
        if (models.GetArrayLength() > MaxModels)
        {
            throw new PeerRecordException($"\"models\" lists more than {MaxModels} CIDs");
        }
        var cids = new List<Cid>();
        foreach (var m in models.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.String || !Cid.TryParse(m.GetString(), out var cid))
            {
                throw new PeerRecordException("\"models\" holds something that is not a CID");
            }
            cids.Add(cid);
        }
        var sorted = Sort(cids);
        if (sorted.Count != cids.Count)
        {
            throw new PeerRecordException("\"models\" lists a CID twice");
        }
        if (!e.TryGetProperty("timestamp", out var ts) || ts.ValueKind != JsonValueKind.Number || !ts.TryGetUInt64(out ulong timestamp))
        {
            throw new PeerRecordException("\"timestamp\" must be an unsigned integer (unix seconds)");
        }
        if (!Signature.TryParse(String(e, "signature"), out var signature))
        {
            throw new PeerRecordException("\"signature\" is not a 65-byte signature (0x + 130 hex digits)");
        }
        return new PeerRecord(address, url, sorted, timestamp, signature);
    }

    private static List<Cid> Sort(IEnumerable<Cid> models) =>
        models.Distinct().OrderBy(m => m.ToString(), StringComparer.Ordinal).ToList();

    private static string String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new PeerRecordException($"\"{name}\" must be a string");
}
