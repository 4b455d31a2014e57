using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Prova.Core.Receipts;

namespace Prova.Sdk;

/// <summary>Settings of a <see cref="ProvaChatClient"/>.</summary>
public sealed class ProvaChatClientOptions
{
    /// <summary>The model (a bundle CID or a published name) when <see cref="ChatOptions.ModelId"/> does not name one.</summary>
    public string? DefaultModel { get; init; }

    /// <summary>The verification mode when the request does not set one (<see cref="ProvaChat.WithProvaMode"/>): <c>attested</c> or <c>quorum:K</c>.</summary>
    public string Mode { get; init; } = Receipt.AttestedMode;

    /// <summary>A non-streamed answer must be complete within this time; a stream must start and then send something at least this often.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(300);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest answer accepted (a non-streamed body, or one server-sent event).</summary>
    public long MaxResponseBytes { get; init; } = 64L << 20;

    /// <summary>
    /// When a <c>quorum:K</c> answer says its nodes disagreed, throw <see cref="ChatQuorumDisagreementException"/> (carrying the
    /// evidence) at the end of the answer; when false the answer is returned and its result's <see cref="ResultFile.Verdict"/> says so.
    /// </summary>
    public bool ThrowOnDisagreement { get; init; } = true;
}

/// <summary>
/// A Prova node's OpenAI-compatible chat API (<c>POST /v1/chat/completions</c>, docs/node-api.md) as a
/// <c>Microsoft.Extensions.AI</c> <see cref="IChatClient"/>, streamed or not. Every answer carries the node's result
/// file (receipts, the signed generation request and output) under <see cref="ChatResponse.AdditionalProperties"/>
/// <c>["prova"]</c> (<see cref="ProvaChat.GetProvaResult(ChatResponse)"/>); a stream's last update carries it. Before an
/// answer is returned the client checks it: every receipt is signed by its node and covers the request and the
/// tokens, the signed text is the text received, the signed sampling parameters are the ones asked for, and the mode is
/// the one asked for. <c>prova verify</c> re-executes it. Node errors (OpenAI error JSON) are <see cref="ProvaClientException"/>s.
/// </summary>
public sealed class ProvaChatClient : IChatClient
{
    private const string Path = "v1/chat/completions";

    private readonly HttpClient _http;
    private readonly ProvaChatClientOptions _options;
    private readonly ChatClientMetadata _metadata;
    private int _next = -1;

    public ProvaChatClient(Uri nodeUrl, ProvaChatClientOptions? options = null, HttpMessageHandler? handler = null)
        : this([nodeUrl], options, handler)
    {
    }

    /// <summary>
    /// A client of several nodes: each request goes to the next node in turn, and one that cannot be reached, is busy
    /// (429, 5xx) or does not host the model (404) before it sends anything is replaced by the following one.
    /// </summary>
    public ProvaChatClient(IEnumerable<Uri> nodeUrls, ProvaChatClientOptions? options = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(nodeUrls);
        _options = options ?? new ProvaChatClientOptions();
        ProvaChat.NormalizeMode(_options.Mode);
        Nodes = nodeUrls.Select(u => u.AbsoluteUri.EndsWith('/') ? u : new Uri(u.AbsoluteUri + "/")).Distinct().ToList();
        if (Nodes.Count == 0)
        {
            throw new ArgumentException("at least one node URL is needed", nameof(nodeUrls));
        }
        handler ??= new SocketsHttpHandler
        {
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _metadata = new ChatClientMetadata("prova", BaseUrl, _options.DefaultModel);
    }

    /// <summary>A client of <paramref name="nodeUrl"/> (e.g. <c>http://127.0.0.1:7420</c>) answering with <paramref name="model"/> by default.</summary>
    public ProvaChatClient(string nodeUrl, string? model = null, string mode = Receipt.AttestedMode)
        : this(ProvaClient.ParseNodeUrl(nodeUrl), new ProvaChatClientOptions { DefaultModel = model, Mode = mode })
    {
    }

    /// <summary>The first node.</summary>
    public Uri BaseUrl => Nodes[0];

    /// <summary>The nodes asked, in turn.</summary>
    public IReadOnlyList<Uri> Nodes { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var asked = ChatWire.Request.From(messages, options, _options);
        var (response, node, timeout) = await ConnectAsync(asked, stream: false, cancellationToken);
        byte[] body;
        using (timeout)
        using (response)
        {
            try
            {
                body = await ProvaClient.ReadLimitedAsync(response, _options.MaxResponseBytes, timeout.Token);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw TimedOut(node, ex);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                throw Unreachable(node, ex);
            }
        }
        return ChatWire.ParseCompletion(body, asked, node, _options.ThrowOnDisagreement);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var asked = ChatWire.Request.From(messages, options, _options);
        var (response, node, idle) = await ConnectAsync(asked, stream: true, cancellationToken);
        using var idleScope = idle;
        using var responseScope = response;
        using var reader = new ChatWire.SseReader(await OpenStreamAsync(response, node, idle.Token, cancellationToken), _options.MaxResponseBytes);
        var state = new ChatWire.StreamState(asked, node, _options.ThrowOnDisagreement);
        while (!state.Done)
        {
            idle.CancelAfter(_options.RequestTimeout);
            string? data = await NextEventAsync(reader, node, idle.Token, cancellationToken);
            if (data is null)
            {
                break;
            }
            if (state.Feed(data) is { } update)
            {
                yield return update;
            }
        }
        // Dispose (the usings above) closes the connection: a node stops generating for a client that leaves early.
        yield return state.Finish();
    }

    /// <summary>
    /// Sends the request to the nodes in turn until one answers with a success status; returns its response and the
    /// timeout source (already running) that bounds the rest of the answer. Failures after that are not retried.
    /// </summary>
    private async Task<(HttpResponseMessage Response, Uri Node, CancellationTokenSource Timeout)> ConnectAsync(ChatWire.Request asked, bool stream,
        CancellationToken cancellationToken)
    {
        int first = (int)((uint)Interlocked.Increment(ref _next) % (uint)Nodes.Count);
        var failures = new List<ProvaClientException>();
        for (int i = 0; i < Nodes.Count; i++)
        {
            var node = Nodes[(first + i) % Nodes.Count];
            var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RequestTimeout);
            ProvaClientException failure;
            try
            {
                return (await SendAsync(node, asked, stream, timeout.Token), node, timeout);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                failure = TimedOut(node, ex);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                failure = Unreachable(node, ex);
            }
            catch (ProvaClientException ex) when (ex.Status is 404 or 409 or 429 or >= 500)
            {
                failure = ex;
            }
            catch
            {
                timeout.Dispose();
                throw;
            }
            timeout.Dispose();
            failures.Add(failure);
        }
        if (failures.Count == 1)
        {
            throw failures[0];
        }
        var last = failures[^1];
        throw new ProvaClientException($"none of the {Nodes.Count} nodes answered: {string.Join("; ", failures.Select(f => f.Message))}",
            last.Code, last.Status, last.Detail, last);
    }

    private async Task<Stream> OpenStreamAsync(HttpResponseMessage response, Uri node, CancellationToken token, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadAsStreamAsync(token);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(node, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            throw Unreachable(node, ex);
        }
    }

    private async Task<string?> NextEventAsync(ChatWire.SseReader reader, Uri node, CancellationToken token, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadEventAsync(token);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProvaClientException($"node at {node} sent nothing for {_options.RequestTimeout.TotalSeconds:0.#} s in the middle of a chat stream", "timeout", inner: ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            throw new ProvaClientException($"the chat stream from node at {node} broke off: {Innermost(ex)}", "unreachable", inner: ex);
        }
    }

    /// <summary>Sends the request; a non-success answer becomes the node's error (<see cref="ChatWire.Error"/>).</summary>
    private async Task<HttpResponseMessage> SendAsync(Uri node, ChatWire.Request asked, bool stream, CancellationToken token)
    {
        using var content = new ByteArrayContent(asked.ToJson(stream));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node, Path)) { Content = content };
        request.Headers.Add(ProvaChat.ModeHeader, asked.Mode);
        if (stream)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        }
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                byte[] problem = await ProvaClient.ReadLimitedAsync(response, 64 << 10, token, truncate: true);
                throw ChatWire.Error(problem, (int)response.StatusCode, response.ReasonPhrase);
            }
        }
        return response;
    }

    private ProvaClientException TimedOut(Uri node, Exception ex) =>
        new($"node at {node} did not answer POST /{Path} within {_options.RequestTimeout.TotalSeconds:0.#} s", "timeout", inner: ex);

    private static ProvaClientException Unreachable(Uri node, Exception ex) =>
        new($"cannot reach node at {node}: {Innermost(ex)}", "unreachable", inner: ex);

    private static string Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }
        return ex.Message;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Prova's additions to <c>Microsoft.Extensions.AI</c> chat: the verification mode of a request and the result of an answer.</summary>
public static class ProvaChat
{
    /// <summary>The key of the result file (<see cref="ResultFile"/>) in an answer's <c>AdditionalProperties</c>.</summary>
    public const string ResultKey = "prova";

    /// <summary>The key of the verification mode in <see cref="ChatOptions.AdditionalProperties"/>.</summary>
    public const string ModeKey = "prova.mode";

    /// <summary>The header that carries the mode (the body's <c>"prova": {"mode"}</c> says the same).</summary>
    public const string ModeHeader = "Prova-Mode";

    /// <summary>Asks for <paramref name="mode"/> (<c>attested</c> or <c>quorum:K</c>) on requests made with these options.</summary>
    public static ChatOptions WithProvaMode(this ChatOptions options, string mode)
    {
        ArgumentNullException.ThrowIfNull(options);
        (options.AdditionalProperties ??= [])[ModeKey] = NormalizeMode(mode);
        return options;
    }

    /// <summary>The mode asked for by <paramref name="options"/>, or null.</summary>
    public static string? GetProvaMode(this ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(ModeKey, out var value) == true ? value?.ToString() : null;

    /// <summary>
    /// The node's result file of this answer (receipts, the signed request and output; for a quorum its verdict), or null.
    /// A response gathered from a stream (<c>ToChatResponse</c>) keeps the last update's properties on its message: both are looked at.
    /// </summary>
    public static ResultFile? GetProvaResult(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.AdditionalProperties?.TryGetValue(ResultKey, out var value) == true && value is ResultFile result)
        {
            return result;
        }
        for (int i = response.Messages.Count - 1; i >= 0; i--)
        {
            if (response.Messages[i].AdditionalProperties?.TryGetValue(ResultKey, out var v) == true && v is ResultFile r)
            {
                return r;
            }
        }
        return null;
    }

    /// <summary>The result file carried by a stream's last update, or null for the other updates.</summary>
    public static ResultFile? GetProvaResult(this ChatResponseUpdate update) =>
        update.AdditionalProperties?.TryGetValue(ResultKey, out var value) == true ? value as ResultFile : null;

    /// <summary><c>attested</c> or <c>quorum:K</c>; anything else is a <see cref="ProvaClientException"/> (<c>bad-mode</c>).</summary>
    public static string NormalizeMode(string mode)
    {
        if (mode == Receipt.AttestedMode || QuorumMode.TryParse(mode, out _))
        {
            return mode;
        }
        throw new ProvaClientException($"mode '{mode}' is not 'attested' or 'quorum:K' (K from 2 to {QuorumMode.MaxK})", "bad-mode");
    }
}

/// <summary>
/// A <c>quorum:K</c> chat answer whose nodes disagreed (<c>quorum-disagreement</c>: the answer's text, its result and the
/// evidence, to check with <c>prova verify</c>) or whose quorum was not reached (<c>quorum-incomplete</c>: fewer than K
/// nodes answered; no evidence).
/// </summary>
public sealed class ChatQuorumDisagreementException : ProvaClientException
{
    public ChatQuorumDisagreementException(string message, ResultFile result, string text, string code = "quorum-disagreement")
        : base(message, code)
    {
        Result = result;
        Text = text;
    }

    public ResultFile Result { get; }

    public string Text { get; }

    public EvidenceFile? Evidence => Result.Verdict?.Evidence;
}
