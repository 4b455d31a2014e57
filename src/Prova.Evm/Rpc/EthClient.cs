using System.Net;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Prova.Core.Crypto;
using Prova.Evm.Abi;

namespace Prova.Evm.Rpc;

/// <summary>Limits and polling for <see cref="EthClient"/>.</summary>
public sealed record EthClientOptions
{
    /// <summary>Per-request timeout (default 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest response body accepted (default 32 MiB); larger ones fail with <see cref="RpcTransportException"/>.</summary>
    public int MaxResponseBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>How often receipt waits and log watches poll (default 1 s; use ~50 ms against anvil).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Default time <see cref="EthClient.WaitForReceiptAsync"/> waits (default 2 min).</summary>
    public TimeSpan ReceiptTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Largest block range one eth_getLogs request of a log watch covers (default 2000).</summary>
    public ulong MaxLogBlockRange { get; init; } = 2000;
}

/// <summary>
/// A JSON-RPC 2.0 client for an Ethereum node over HTTP(S). Thread-safe. Every failure is an
/// <see cref="EvmException"/> naming the RPC method: <see cref="RpcException"/> (error response),
/// <see cref="RpcTransportException"/> (connection, HTTP status, timeout, size limit, bad JSON),
/// <see cref="ContractRevertException"/> (eth_call / eth_estimateGas reverted, reason decoded).
/// </summary>
public sealed class EthClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private long _nextId;

    public EthClient(Uri url, EthClientOptions? options = null, HttpClient? httpClient = null)
    {
        Url = url ?? throw new ArgumentNullException(nameof(url));
        Options = options ?? new EthClientOptions();
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public EthClient(string url, EthClientOptions? options = null) : this(new Uri(url), options)
    {
    }

    public Uri Url { get; }

    public EthClientOptions Options { get; }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    // ---------- raw JSON-RPC ----------

    /// <summary>Sends one request; returns a copy of its "result" (JSON null when the node returned null).</summary>
    public async Task<JsonElement> RequestAsync(string method, IReadOnlyList<object?> parameters, CancellationToken cancellationToken = default)
    {
        long id = Interlocked.Increment(ref _nextId);
        byte[] body = BuildRequest(id, method, parameters);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.RequestTimeout);
        byte[] responseBytes;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new RpcTransportException(method, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase} from {Url}");
            }
            if (response.Content.Headers.ContentLength > Options.MaxResponseBytes)
            {
                throw new RpcTransportException(method, $"response of {response.Content.Headers.ContentLength} bytes exceeds the {Options.MaxResponseBytes}-byte limit");
            }
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            responseBytes = await ReadLimitedAsync(stream, method, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RpcTransportException(method, $"no answer from {Url} within {Options.RequestTimeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            throw new RpcTransportException(method, $"cannot reach {Url}: {e.Message}", e);
        }
        return ParseResponse(method, id, responseBytes);
    }

    public async Task<T> RequestAsync<T>(string method, IReadOnlyList<object?> parameters, Func<JsonElement, T> parse, CancellationToken cancellationToken = default)
    {
        var result = await RequestAsync(method, parameters, cancellationToken).ConfigureAwait(false);
        try
        {
            return parse(result);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or KeyNotFoundException or JsonException or CryptoFormatException)
        {
            throw new RpcTransportException(method, "unexpected result: " + e.Message, e);
        }
    }

    private async Task<byte[]> ReadLimitedAsync(Stream stream, string method, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > Options.MaxResponseBytes)
            {
                throw new RpcTransportException(method, $"response exceeds the {Options.MaxResponseBytes}-byte limit");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static byte[] BuildRequest(long id, string method, IReadOnlyList<object?> parameters)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc", "2.0");
            writer.WriteNumber("id", id);
            writer.WriteString("method", method);
            writer.WritePropertyName("params");
            JsonSerializer.Serialize(writer, parameters, RpcSerializer.Options);
            writer.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static JsonElement ParseResponse(string method, long id, byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new RpcTransportException(method, "response is not a JSON-RPC object");
            }
            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                long code = error.TryGetProperty("code", out var c) && c.TryGetInt64(out long cv) ? cv : 0;
                string message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "(no message)";
                string? data = error.TryGetProperty("data", out var d)
                    ? (d.ValueKind == JsonValueKind.String ? d.GetString() : d.GetRawText())
                    : null;
                throw new RpcException(method, code, message, data);
            }
            if (!root.TryGetProperty("id", out var rid) || !rid.TryGetInt64(out long responseId) || responseId != id)
            {
                throw new RpcTransportException(method, "response id does not match the request");
            }
            return root.TryGetProperty("result", out var result)
                ? result.Clone()
                : throw new RpcTransportException(method, "response has neither result nor error");
        }
        catch (JsonException e)
        {
            throw new RpcTransportException(method, "response is not valid JSON: " + e.Message, e);
        }
    }

    // ---------- eth_* ----------

    public Task<ulong> ChainIdAsync(CancellationToken cancellationToken = default) =>
        RequestAsync("eth_chainId", [], r => Quantity.Parse(r.GetString(), "chain id"), cancellationToken);

    public Task<ulong> BlockNumberAsync(CancellationToken cancellationToken = default) =>
        RequestAsync("eth_blockNumber", [], r => Quantity.Parse(r.GetString(), "block number"), cancellationToken);

    public Task<BigInteger> GetBalanceAsync(Address address, string block = BlockTag.Latest, CancellationToken cancellationToken = default) =>
        RequestAsync("eth_getBalance", [address.ToLowerHex(), block], r => Quantity.ParseBig(r.GetString(), "balance"), cancellationToken);

    /// <summary>The next nonce of <paramref name="address"/>; "pending" counts transactions in the pool.</summary>
    public Task<ulong> GetTransactionCountAsync(Address address, string block = BlockTag.Pending, CancellationToken cancellationToken = default) =>
        RequestAsync("eth_getTransactionCount", [address.ToLowerHex(), block], r => Quantity.Parse(r.GetString(), "nonce"), cancellationToken);

    public Task<byte[]> GetCodeAsync(Address address, string block = BlockTag.Latest, CancellationToken cancellationToken = default) =>
        RequestAsync("eth_getCode", [address.ToLowerHex(), block], r => RpcJson.Bytes(r.GetString(), "code"), cancellationToken);

    public Task<BigInteger> GasPriceAsync(CancellationToken cancellationToken = default) =>
        RequestAsync("eth_gasPrice", [], r => Quantity.ParseBig(r.GetString(), "gas price"), cancellationToken);

    public Task<BigInteger> MaxPriorityFeePerGasAsync(CancellationToken cancellationToken = default) =>
        RequestAsync("eth_maxPriorityFeePerGas", [], r => Quantity.ParseBig(r.GetString(), "priority fee"), cancellationToken);

    /// <summary>A block's header; null when the node does not have it.</summary>
    public Task<BlockHeader?> GetBlockAsync(string block = BlockTag.Latest, CancellationToken cancellationToken = default) =>
        RequestAsync("eth_getBlockByNumber", [block, false], r => r.ValueKind == JsonValueKind.Null ? null : RpcJson.ParseBlock(r), cancellationToken);

    /// <summary>Gas a transaction would use. A revert throws <see cref="ContractRevertException"/> (reason decoded with <paramref name="errors"/>).</summary>
    public async Task<ulong> EstimateGasAsync(CallRequest call, IEnumerable<AbiError>? errors = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await RequestAsync("eth_estimateGas", [CallObject(call)], r => Quantity.Parse(r.GetString(), "gas"), cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (AsRevert(e, errors) is { } revert)
        {
            throw revert;
        }
    }

    /// <summary>Runs a call without a transaction and returns its return data. A revert throws <see cref="ContractRevertException"/>.</summary>
    public async Task<byte[]> CallAsync(CallRequest call, string block = BlockTag.Latest, IEnumerable<AbiError>? errors = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await RequestAsync("eth_call", [CallObject(call), block], r => RpcJson.Bytes(r.GetString(), "return data"), cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (AsRevert(e, errors) is { } revert)
        {
            throw revert;
        }
    }

    /// <summary>Broadcasts a signed transaction; returns its hash.</summary>
    public Task<Hash256> SendRawTransactionAsync(ReadOnlyMemory<byte> raw, CancellationToken cancellationToken = default) =>
        RequestAsync("eth_sendRawTransaction", ["0x" + Convert.ToHexStringLower(raw.Span)], r => Hash256.Parse(r.GetString()!), cancellationToken);

    /// <summary>The receipt, or null while the transaction is not mined.</summary>
    public Task<TransactionReceipt?> GetTransactionReceiptAsync(Hash256 transactionHash, CancellationToken cancellationToken = default) =>
        RequestAsync("eth_getTransactionReceipt", [transactionHash.ToString()], r => r.ValueKind == JsonValueKind.Null ? null : RpcJson.ParseReceipt(r), cancellationToken);

    public Task<IReadOnlyList<Log>> GetLogsAsync(LogFilter filter, CancellationToken cancellationToken = default) =>
        RequestAsync<IReadOnlyList<Log>>("eth_getLogs", [FilterObject(filter)], r => r.EnumerateArray().Select(RpcJson.ParseLog).ToArray(), cancellationToken);

    /// <summary>
    /// Polls until the transaction is mined and has <paramref name="confirmations"/> confirmations
    /// (1 = mined in the latest block). Throws <see cref="ReceiptTimeoutException"/> after <paramref name="timeout"/>
    /// (default <see cref="EthClientOptions.ReceiptTimeout"/>). Does not check the status; see <see cref="TransactionReceipt.Succeeded"/>.
    /// </summary>
    public async Task<TransactionReceipt> WaitForReceiptAsync(Hash256 transactionHash, int confirmations = 1, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? Options.ReceiptTimeout;
        var started = DateTime.UtcNow;
        while (true)
        {
            var receipt = await GetTransactionReceiptAsync(transactionHash, cancellationToken).ConfigureAwait(false);
            if (receipt is not null)
            {
                if (confirmations <= 1)
                {
                    return receipt;
                }
                ulong head = await BlockNumberAsync(cancellationToken).ConfigureAwait(false);
                if (head + 1 >= receipt.BlockNumber + (ulong)confirmations)
                {
                    // Re-read: a reorg may have moved or dropped the transaction meanwhile.
                    var again = await GetTransactionReceiptAsync(transactionHash, cancellationToken).ConfigureAwait(false);
                    if (again is not null && again.BlockHash == receipt.BlockHash)
                    {
                        return again;
                    }
                }
            }
            if (DateTime.UtcNow - started > limit)
            {
                throw new ReceiptTimeoutException(transactionHash, limit, confirmations);
            }
            await Task.Delay(Options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Yields the logs matching <paramref name="filter"/> from block <paramref name="fromBlock"/> on, each once,
    /// as soon as its block has <paramref name="confirmations"/> confirmations (0 or 1 = as soon as mined),
    /// polling every <see cref="EthClientOptions.PollInterval"/> until cancelled. Reorgs deeper than the
    /// confirmation depth are not detected.
    /// </summary>
    public async IAsyncEnumerable<Log> WatchLogsAsync(LogFilter filter, ulong fromBlock, int confirmations = 1, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ulong next = fromBlock;
        while (!cancellationToken.IsCancellationRequested)
        {
            ulong head = await BlockNumberAsync(cancellationToken).ConfigureAwait(false);
            ulong depth = (ulong)Math.Max(confirmations - 1, 0);
            if (head >= depth && head - depth >= next)
            {
                ulong safe = head - depth;
                ulong to = Math.Min(safe, next + Options.MaxLogBlockRange - 1);
                var logs = await GetLogsAsync(filter with { FromBlock = next, ToBlock = to }, cancellationToken).ConfigureAwait(false);
                foreach (var log in logs.OrderBy(l => l.BlockNumber).ThenBy(l => l.LogIndex))
                {
                    if (!log.Removed)
                    {
                        yield return log;
                    }
                }
                next = to + 1;
                if (to < safe)
                {
                    continue;
                }
            }
            await Task.Delay(Options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---------- helpers ----------

    internal static ContractRevertException? AsRevert(RpcException e, IEnumerable<AbiError>? errors)
    {
        bool looksLikeRevert = e.Code == 3 || e.RpcMessage.Contains("revert", StringComparison.OrdinalIgnoreCase);
        if (!looksLikeRevert)
        {
            return null;
        }
        byte[] data = [];
        if (e.ErrorData is { } d)
        {
            string hex = d;
            if (d.StartsWith('{'))
            {
                try
                {
                    using var doc = JsonDocument.Parse(d);
                    hex = doc.RootElement.TryGetProperty("data", out var inner) && inner.ValueKind == JsonValueKind.String ? inner.GetString()! : "0x";
                }
                catch (JsonException)
                {
                    hex = "0x";
                }
            }
            data = Prova.Core.Crypto.Hex.TryDecodeAny(hex) ?? [];
        }
        return new ContractRevertException(e.Method, RevertReason.Decode(data, errors));
    }

    internal static Dictionary<string, object?> CallObject(CallRequest call)
    {
        var o = new Dictionary<string, object?>();
        if (call.From is { } from)
        {
            o["from"] = from.ToLowerHex();
        }
        if (call.To is { } to)
        {
            o["to"] = to.ToLowerHex();
        }
        if (call.Data.Length > 0)
        {
            o["data"] = "0x" + Convert.ToHexStringLower(call.Data);
        }
        if (!call.Value.IsZero)
        {
            o["value"] = Quantity.Format(call.Value);
        }
        if (call.Gas is { } gas)
        {
            o["gas"] = Quantity.Format(gas);
        }
        return o;
    }

    private static Dictionary<string, object?> FilterObject(LogFilter filter)
    {
        var o = new Dictionary<string, object?>
        {
            ["fromBlock"] = filter.FromBlock is { } from ? Quantity.Format(from) : BlockTag.Earliest,
            ["toBlock"] = filter.ToBlock is { } to ? Quantity.Format(to) : BlockTag.Latest,
        };
        if (filter.Addresses.Count > 0)
        {
            o["address"] = filter.Addresses.Select(a => a.ToLowerHex()).ToArray();
        }
        if (filter.Topics.Count > 0)
        {
            o["topics"] = filter.Topics.Select(t => t is null ? null : (object)t.Select(h => h.ToString()).ToArray()).ToArray();
        }
        return o;
    }
}

internal static class RpcSerializer
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
