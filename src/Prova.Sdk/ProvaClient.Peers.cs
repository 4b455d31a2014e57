using System.Text.Json;

namespace Prova.Sdk;

public sealed partial class ProvaClient
{
    /// <summary>
    /// <c>GET /v1/peers</c>: the node's own signed record and the peers it knows. Records whose
    /// signature does not recover to their address are dropped (a node may relay junk; it cannot forge).
    /// </summary>
    public async Task<PeerList> GetPeersAsync(CancellationToken cancellationToken = default)
    {
        using var doc = await GetJsonAsync("v1/peers", cancellationToken);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("self", out var self))
        {
            throw BadResponse("the peer list has no \"self\" record");
        }
        var me = PeerRecord.FromJson(self);
        if (!me.IsSignatureValid())
        {
            throw new ProvaClientException($"node at {BaseUrl} sent a self record whose signature does not recover to {me.Address}", "bad-peer-record");
        }
        var peers = new List<PeerRecord>();
        if (root.TryGetProperty("peers", out var array) && array.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in array.EnumerateArray())
            {
                try
                {
                    var record = PeerRecord.FromJson(e);
                    if (record.IsSignatureValid())
                    {
                        peers.Add(record);
                    }
                }
                catch (ProvaClientException)
                {
                    // One malformed record does not spoil the others.
                }
            }
        }
        return new PeerList(me, peers);
    }
}
