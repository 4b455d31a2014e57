using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;

namespace Prova.Sdk;

/// <summary>
/// A node's signed description of itself (<c>GET /v1/peers</c>, docs/devnet.md): its address, URL,
/// the models it hosts and when it said so, signed with EIP-191 personal_sign over
/// <c>prova-peer\n&lt;address&gt;\n&lt;url&gt;\n&lt;timestamp&gt;\n&lt;cid1&gt;,&lt;cid2&gt;,…</c> (CIDs sorted ordinal).
/// </summary>
public sealed record PeerRecord
{
    public required Address Address { get; init; }
    public required Uri Url { get; init; }
    public required IReadOnlyList<Cid> Models { get; init; }
    public ulong Timestamp { get; init; }
    public Signature Signature { get; init; }

    /// <summary>The UTF-8 text the signature covers.</summary>
    public string SigningText(string url) =>
        $"prova-peer\n{Address}\n{url}\n{Timestamp}\n{string.Join(",", Models.Select(m => m.ToString()).Order(StringComparer.Ordinal))}";

    /// <summary>The record signed by <paramref name="key"/> (tests and tools; nodes sign their own).</summary>
    public static PeerRecord Create(PrivateKey key, string url, IEnumerable<Cid> models, ulong timestamp)
    {
        var record = new PeerRecord { Address = key.Address, Url = new Uri(url), UrlText = url, Models = models.ToList(), Timestamp = timestamp };
        return record with { Signature = Eip191.SignPersonalMessage(key, record.SigningText(url)) };
    }

    /// <summary>The URL exactly as the record states it (what the signature covers).</summary>
    public string UrlText { get; init; } = "";

    /// <summary>True when the signature recovers to <see cref="Address"/>.</summary>
    public bool IsSignatureValid()
    {
        try
        {
            return Signature != default && Eip191.VerifyPersonalMessage(Encoding.UTF8.GetBytes(SigningText(UrlText)), Signature, Address);
        }
        catch (CryptoFormatException)
        {
            return false;
        }
    }

    /// <summary>Reads a peer record object; a malformed one is a <see cref="ProvaClientException"/> with code <c>bad-response</c>.</summary>
    public static PeerRecord FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new ProvaClientException("a peer record is not a JSON object", "bad-response");
        }
        try
        {
            string url = Json.String(e, "url");
            var models = new List<Cid>();
            if (e.TryGetProperty("models", out var m) && m.ValueKind == JsonValueKind.Array)
            {
                foreach (var c in m.EnumerateArray())
                {
                    if (c.ValueKind == JsonValueKind.String && Cid.TryParse(c.GetString(), out var cid, out _))
                    {
                        models.Add(cid);
                    }
                    else
                    {
                        throw new ProvaClientException("a peer record lists a model that is not a CID", "bad-response");
                    }
                }
            }
            var parsed = ProvaClient.ParseNodeUrl(url);
            return new PeerRecord
            {
                Address = Address.Parse(Json.String(e, "address")),
                Url = parsed,
                UrlText = url,
                Models = models,
                Timestamp = e.TryGetProperty("timestamp", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetUInt64(out ulong ts) ? ts : 0,
                Signature = Json.OptionalString(e, "signature") is { } s ? Signature.Parse(s) : default,
            };
        }
        catch (ProvaException ex) when (ex is not ProvaClientException)
        {
            throw new ProvaClientException($"a peer record is malformed: {ex.Message}", "bad-response", inner: ex);
        }
    }
}

/// <summary>The answer of <c>GET /v1/peers</c>: the node's own record and the peers it knows.</summary>
public sealed record PeerList(PeerRecord Self, IReadOnlyList<PeerRecord> Peers);
