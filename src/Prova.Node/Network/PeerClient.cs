using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Prova.Node.Hosting;

namespace Prova.Node.Network;

/// <summary>A peer did not answer as the protocol says (unreachable, timed out, an error status, a body too large or malformed).</summary>
public sealed class PeerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The body of <c>GET /v1/peers</c> (and of an announce's answer): the peer's own record and the records it knows.</summary>
public sealed record PeerList(PeerRecord Self, IReadOnlyList<PeerRecord> Peers, int Malformed)
{
    public static byte[] Write(PeerRecord self, IEnumerable<PeerRecord> peers)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("self");
            self.WriteJson(writer);
            writer.WriteStartArray("peers");
            foreach (var p in peers)
            {
                p.WriteJson(writer);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses a list; the self record must be well formed, malformed entries of "peers" are counted and skipped.</summary>
    public static PeerList Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("self", out var self)
                || !root.TryGetProperty("peers", out var peers) || peers.ValueKind != JsonValueKind.Array)
            {
                throw new PeerException("the peer list is not {\"self\": {...}, \"peers\": [...]}");
            }
            if (peers.GetArrayLength() > PeerRecord.MaxPeersInList)
            {
                throw new PeerException($"the peer list holds more than {PeerRecord.MaxPeersInList} records");
            }
            var selfRecord = PeerRecord.FromJson(self);
            var list = new List<PeerRecord>();
            int malformed = 0;
            foreach (var p in peers.EnumerateArray())
            {
                try
                {
                    list.Add(PeerRecord.FromJson(p));
                }
                catch (Exception ex) when (ex is PeerRecordException or InvalidOperationException)
                {
                    malformed++;
                }
            }
            return new PeerList(selfRecord, list, malformed);
        }
        catch (Exception ex) when (ex is JsonException or PeerRecordException or InvalidOperationException)
        {
            throw new PeerException($"malformed peer list: {ex.Message}", ex);
        }
    }
}

/// <summary>
/// HTTP to other nodes, with short timeouts and bounded bodies: the peer exchange and the reads that
/// replication needs (model metadata, manifest, chunks).
/// </summary>
public sealed class PeerClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeSpan _timeout;

    public PeerClient(IOptions<NodeOptions> options)
    {
        _timeout = TimeSpan.FromMilliseconds(options.Value.PeerTimeoutMs);
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = _timeout,
            AllowAutoRedirect = false,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = 16,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>POST /v1/peers/announce with our record; returns the peer's list.</summary>
    public async Task<PeerList> AnnounceAsync(string url, PeerRecord self, CancellationToken cancellationToken)
    {
        var content = new ByteArrayContent(self.ToJson());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        byte[] body = await SendAsync(HttpMethod.Post, url + "/v1/peers/announce", content, PeerRecord.MaxListBytes, _timeout, cancellationToken);
        return PeerList.Parse(body);
    }

    /// <summary>GET <paramref name="path"/> of a peer, at most <paramref name="maxBytes"/>, within <paramref name="timeout"/>.</summary>
    public Task<byte[]> GetAsync(string url, string path, long maxBytes, TimeSpan timeout, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, url + path, null, maxBytes, timeout, cancellationToken);

    private async Task<byte[]> SendAsync(HttpMethod method, string uri, HttpContent? content, long maxBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var request = new HttpRequestMessage(method, uri) { Content = content };
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new PeerException($"{method} {uri} answered {(int)response.StatusCode}");
            }
            if (response.Content.Headers.ContentLength is long declared && declared > maxBytes)
            {
                throw new PeerException($"{method} {uri} declared {declared} bytes, more than the {maxBytes} allowed");
            }
            await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            var buffer = new MemoryStream();
            var chunk = new byte[64 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cts.Token)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new PeerException($"{method} {uri} sent more than the {maxBytes} bytes allowed");
                }
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerException($"{method} {uri} took longer than {timeout.TotalMilliseconds} ms");
        }
        catch (HttpRequestException ex)
        {
            throw new PeerException($"{method} {uri} failed: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new PeerException($"{method} {uri} failed: {ex.Message}", ex);
        }
    }

    public void Dispose() => _http.Dispose();
}
