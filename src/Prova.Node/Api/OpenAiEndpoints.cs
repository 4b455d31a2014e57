using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Node.Hosting;
using Prova.Node.Inference;
using Prova.Node.Store;

namespace Prova.Node.Api;

/// <summary>
/// <c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c> as the OpenAI API reference defines them, on
/// language-model bundles, with Prova's extension: the verification mode (<c>"prova": {"mode"}</c> or the
/// <c>Prova-Mode</c> header) and the evidence (<c>"prova"</c> in the response, or a last chunk before
/// <c>[DONE]</c>). See docs/node-api.md ("OpenAI-compatible API") and docs/verified-chat.md.
/// </summary>
internal static class OpenAiEndpoints
{
    public const string ModeHeader = "Prova-Mode";

    private static readonly byte[] s_data = "data: "u8.ToArray();
    private static readonly byte[] s_end = "\n\n"u8.ToArray();
    private static readonly byte[] s_done = "data: [DONE]\n\n"u8.ToArray();

    public static void Map(IEndpointRouteBuilder app)
    {
        // Generations are bounded by max_tokens and the queue wait by RequestTimeoutSeconds; a stream must not be cut by the request timeout.
        app.MapPost("/v1/chat/completions", (Delegate)((HttpContext context) => HandleAsync(context, chat: true)))
            .WithTags("openai").WithMetadata(RouteMismatch.OpenAiShape.Instance).WithSummary("OpenAI-compatible chat completion on a language-model bundle, with a signed receipt")
            .Accepts<JsonObject>("application/json").Produces<JsonObject>(200, "application/json", "text/event-stream")
            .DisableRequestTimeout();
        app.MapPost("/v1/completions", (Delegate)((HttpContext context) => HandleAsync(context, chat: false)))
            .WithTags("openai").WithMetadata(RouteMismatch.OpenAiShape.Instance).WithSummary("OpenAI-compatible text completion on a language-model bundle, with a signed receipt")
            .Accepts<JsonObject>("application/json").Produces<JsonObject>(200, "application/json", "text/event-stream")
            .DisableRequestTimeout();
    }

    private static async Task HandleAsync(HttpContext context, bool chat)
    {
        try
        {
            await RunAsync(context, chat);
        }
        catch (ApiException ex) when (!context.Response.HasStarted)
        {
            await OpenAiErrors.WriteAsync(context, ex, chat);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await OpenAiErrors.WriteAsync(context, ex.StatusCode == 413
                ? new ApiException(413, "payload-too-large", "the request body is larger than the server allows")
                : OpenAiErrors.Invalid(null, ex.Message), chat);
        }
        catch (Exception ex) when (!context.Response.HasStarted && ex is not OperationCanceledException)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Prova.Node");
            Log.Unhandled(logger, ex, context.Request.Method, context.Request.Path);
            await OpenAiErrors.WriteAsync(context, new ApiException(500, "internal", "an internal error occurred; see the node log"), chat);
        }
    }

    private static async Task RunAsync(HttpContext context, bool chat)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptions<NodeOptions>>().Value;
        var generation = services.GetRequiredService<GenerationService>();
        var identity = services.GetRequiredService<NodeIdentity>();
        var time = services.GetRequiredService<TimeProvider>();
        var cancel = context.RequestAborted;

        byte[] body = await Body.ReadAsync(context, options.MaxChatRequestBytes, "MaxChatRequestBytes", "the request body");
        var request = OpenAiRequest.Parse(body, chat);
        string mode = Mode(request, context);
        var model = Resolve(request.Model, services.GetRequiredService<ModelCatalog>());
        var requestId = new Hash256(RandomNumberGenerator.GetBytes(32));
        // A drawn seed stays below 2^53 so JavaScript clients read it back exactly.
        ulong seed = request.Seed ?? (RandomNumberGenerator.GetBytes(8) is var b ? BitConverter.ToUInt64(b) & ((1UL << 53) - 1) : 0);

        PeerQuorum? peers = null;
        IReadOnlyList<Prova.Core.Network.PeerRecord> candidates = [];
        if (InferModes.TryParseQuorum(mode, out int k))
        {
            peers = services.GetRequiredService<PeerQuorum>();
            candidates = peers.Candidates(model, requestId);
            if (candidates.Count < k - 1)
            {
                throw new ApiException(503, "quorum-unavailable",
                    $"mode {mode} needs {k - 1} other nodes hosting {model}; this node knows {candidates.Count}",
                    new Dictionary<string, object?> { ["retryAfterSeconds"] = 5 });
            }
        }

        var prepared = new TaskCompletionSource<GenerationRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        GenerationRequest Prepare(LanguageModel lm)
        {
            var r = Resolve(request, lm, generation, options, seed);
            prepared.TrySetResult(r);
            return r;
        }
        // quorum:K: the other nodes start as soon as the request is resolved, while this node generates.
        using var peerCancel = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        Task<QuorumOutcome>? quorum = peers is null ? null : AskPeersAsync(peers, candidates, k, model, mode, requestId, prepared.Task, peerCancel.Token);

        var responses = new OpenAiResponses(chat, (chat ? "chatcmpl-" : "cmpl-") + requestId.ToString()[2..],
            time.GetUtcNow().ToUnixTimeSeconds(), model.ToString(), "prova-" + identity.Address, request.IncludeUsage);
        context.Response.Headers["Prova-Request-Id"] = requestId.ToString();
        context.Response.Headers["Prova-Seed"] = seed.ToString(CultureInfo.InvariantCulture);
        try
        {
            if (request.Stream)
            {
                await StreamAsync(context, generation, model, Prepare, requestId, mode, responses, quorum);
            }
            else
            {
                var outcome = await generation.GenerateAsync(model, Prepare, requestId, mode, null, cancel);
                Settlement.SettlementSetup.RecordServed(services, outcome.Receipt);
                var prova = ProvaEvidence.Build(model, mode, outcome, quorum is null ? null : await quorum);
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(responses.Completion(outcome, prova), cancel);
            }
        }
        finally
        {
            prepared.TrySetCanceled(CancellationToken.None);
            if (quorum is not null && !quorum.IsCompleted)
            {
                // This node failed or the client left: the peers' generations are of no use any more.
                await peerCancel.CancelAsync();
                _ = quorum.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// Streams the generation as server-sent events: the text pieces GenerationService forms are bridged through a
    /// channel, and the response starts with the first of them (so an error before any text, such as a full queue,
    /// is still an ordinary OpenAI error with its status). A client that goes away cancels the generation at the
    /// next token, which frees its slot.
    /// </summary>
    private static async Task StreamAsync(HttpContext context, GenerationService generation, Cid model, Func<LanguageModel, GenerationRequest> prepare,
        Hash256 requestId, string mode, OpenAiResponses responses, Task<QuorumOutcome>? quorum)
    {
        var cancel = context.RequestAborted;
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var run = generation.GenerateAsync(model, prepare, requestId, mode, piece => channel.Writer.TryWrite(piece), cancel);
        _ = run.ContinueWith(t => channel.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        bool started = false;
        try
        {
            await foreach (var piece in channel.Reader.ReadAllAsync(cancel))
            {
                if (!started)
                {
                    await StartAsync(context, responses);
                    started = true;
                }
                await SendAsync(context, responses.Chunk(piece));
            }
        }
        finally
        {
            // Never leave the generation's exception unobserved (the client may have gone away).
            _ = run.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        GenerationOutcome outcome;
        try
        {
            outcome = await run;
        }
        catch (ApiException ex) when (started)
        {
            // Headers are out: OpenAI sends a failure inside the stream as an error event.
            var (_, type, code) = OpenAiErrors.Map(ex);
            await SendAsync(context, OpenAiErrors.Json(ex.Message, type, null, code));
            return;
        }
        Settlement.SettlementSetup.RecordServed(context.RequestServices, outcome.Receipt);
        if (!started)
        {
            await StartAsync(context, responses);
        }
        await SendAsync(context, responses.Chunk(null, finishReason: OpenAiResponses.FinishReason(outcome.Generation.Result.Reason)));
        if (responses.IncludeUsage)
        {
            await SendAsync(context, responses.UsageChunk(outcome));
        }
        var prova = ProvaEvidence.Build(model, mode, outcome, quorum is null ? null : await quorum);
        await SendAsync(context, responses.ProvaChunk(prova));
        await context.Response.Body.WriteAsync(s_done, cancel);
        await context.Response.Body.FlushAsync(cancel);
    }

    private static async Task StartAsync(HttpContext context, OpenAiResponses responses)
    {
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        if (responses.IsChat)
        {
            await SendAsync(context, responses.Chunk("", role: true));
        }
        else
        {
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    private static async Task SendAsync(HttpContext context, byte[] json)
    {
        var body = context.Response.Body;
        await body.WriteAsync(s_data, context.RequestAborted);
        await body.WriteAsync(json, context.RequestAborted);
        await body.WriteAsync(s_end, context.RequestAborted);
        await body.FlushAsync(context.RequestAborted);
    }

    private static async Task<QuorumOutcome> AskPeersAsync(PeerQuorum peers, IReadOnlyList<Prova.Core.Network.PeerRecord> candidates, int k, Cid model,
        string mode, Hash256 requestId, Task<GenerationRequest> prepared, CancellationToken cancellationToken)
    {
        var request = await prepared.ConfigureAwait(false);
        var (answers, failures) = await peers.GatherAsync(candidates, k - 1, model, request.ToTensors(), mode, requestId, cancellationToken).ConfigureAwait(false);
        return new QuorumOutcome(k, answers, failures);
    }

    /// <summary>The mode: <c>prova.mode</c> in the body, else the <c>Prova-Mode</c> header, else attested.</summary>
    private static string Mode(OpenAiRequest request, HttpContext context)
    {
        string mode = request.Mode ?? (context.Request.Headers[ModeHeader].ToString() is { Length: > 0 } h ? h.Trim() : Receipt.AttestedMode);
        InferModes.Check(mode);
        if (mode == InferModes.ProofMode)
        {
            throw new ApiException(422, "unsupported-mode", "mode \"proof\" does not cover generations yet; use \"attested\" or \"quorum:K\"");
        }
        return mode;
    }

    /// <summary>
    /// A model given as a CID, a published name (its latest version: the newest signed publication timestamp) or
    /// <c>name:version</c>.
    /// </summary>
    internal static Cid Resolve(string model, ModelCatalog catalog)
    {
        if (Cid.TryParse(model, out var cid))
        {
            return catalog.Find(cid) is not null ? cid : throw NotFound(model);
        }
        int colon = model.LastIndexOf(':');
        ModelInfo? info = colon > 0
            ? catalog.Find(model[..colon], model[(colon + 1)..])
            : catalog.List(model).OrderBy(m => m.Timestamp).LastOrDefault();
        return info is not null && Cid.TryParse(info.Cid, out var found) ? found : throw NotFound(model);
    }

    private static ApiException NotFound(string model)
    {
        string shown = model.Length > 80 ? model[..80] + "..." : model;
        return new ApiException(404, "unknown-model", $"the model '{shown}' does not exist on this node: give a published model's CID, name or name:version (GET /v1/models lists them)");
    }

    /// <summary>
    /// The request the node signs: the prompt (a chat through the bundle's template, as token ids; a completion's
    /// text), every sampling value resolved (unset ones from the bundle's generation_config.json) and the seed.
    /// </summary>
    private static GenerationRequest Resolve(OpenAiRequest request, LanguageModel lm, GenerationService generation, NodeOptions options, ulong seed)
    {
        int[]? ids = request.Messages is not null ? lm.EncodeChat(request.Messages) : request.PromptIds;
        string? text = request.Prompt;
        int promptTokens = ids?.Length ?? lm.Encode(text!).Length;
        var sampling = lm.Sampling(request.Temperature, request.TopK, request.TopP, request.RepetitionPenalty, seed);
        int room = generation.ContextLength(lm) - promptTokens;
        return new GenerationRequest
        {
            PromptIds = ids,
            PromptText = ids is null ? text : null,
            MaxTokens = request.MaxTokens ?? Math.Max(1, Math.Min(room, options.MaxGenerationTokens)),
            Sampling = sampling,
            Stop = request.Stop,
        };
    }
}
