using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing.Template;

namespace Prova.Node.Api;

/// <summary>
/// Answers a request that routing matched to no endpoint of the node, from the route table itself
/// (RFC 9110 §15.5.6 and §15.5.16): a route whose path matches but whose methods do not → 405 with an
/// <c>Allow</c> header listing them; a route whose path and method match but whose accepted request
/// content types (<see cref="IAcceptsMetadata"/>) do not → 415 naming the accepted types; nothing → 404.
/// Routes marked <see cref="OpenAiShape"/> answer in OpenAI's error shape, every other route with a ProblemDetails.
/// No route is handled by hand: a new route gets these answers from its own metadata.
/// </summary>
internal sealed class RouteMismatch
{
    /// <summary>Endpoint metadata: this route's clients expect OpenAI's error shape (<see cref="OpenAiErrors"/>).</summary>
    public sealed class OpenAiShape
    {
        public static readonly OpenAiShape Instance = new();

        private OpenAiShape()
        {
        }
    }

    private readonly EndpointDataSource _endpoints;
    private readonly Lock _gate = new();
    private IReadOnlyList<Endpoint>? _seen;
    private List<(TemplateMatcher Path, RouteEndpoint Endpoint)> _routes = [];

    public RouteMismatch(EndpointDataSource endpoints)
    {
        _endpoints = endpoints;
    }

    /// <summary>Middleware after <c>UseRouting</c>: a request routing selected a node route for goes on; any other is answered here.</summary>
    public Task Handle(HttpContext context, RequestDelegate next)
    {
        // Routing's own rejections (405/415 endpoints) and no match at all are not RouteEndpoints.
        if (context.GetEndpoint() is RouteEndpoint)
        {
            return next(context);
        }
        var request = context.Request;
        var pathMatches = new List<RouteEndpoint>();
        foreach (var (path, endpoint) in Routes())
        {
            if (path.TryMatch(request.Path, new RouteValueDictionary()))
            {
                pathMatches.Add(endpoint);
            }
        }
        if (pathMatches.Count == 0)
        {
            throw new ApiException(404, "not-found", $"no route {request.Method} {request.Path}; see /openapi/v1.json");
        }
        bool openAi = pathMatches.Exists(e => e.Metadata.GetMetadata<OpenAiShape>() is not null);
        var allowed = new SortedSet<string>(StringComparer.Ordinal);
        var accepted = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var endpoint in pathMatches)
        {
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            if (methods is null || methods.Count == 0)
            {
                continue;
            }
            foreach (string method in methods)
            {
                allowed.Add(method);
            }
            if (methods.Contains(request.Method, StringComparer.OrdinalIgnoreCase) && endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is { } accepts)
            {
                foreach (string type in accepts.ContentTypes)
                {
                    accepted.Add(type);
                }
            }
        }
        if (!allowed.Contains(request.Method))
        {
            context.Response.Headers.Allow = string.Join(", ", allowed);
            return Fail(context, openAi, new ApiException(405, "method-not-allowed",
                $"{request.Path} does not take {request.Method}; it takes {string.Join(", ", allowed)}",
                new Dictionary<string, object?> { ["allow"] = allowed.ToArray() }));
        }
        string given = string.IsNullOrEmpty(request.ContentType) ? "no Content-Type" : $"Content-Type '{Bounded(request.ContentType)}'";
        return Fail(context, openAi, new ApiException(415, "unsupported-media-type",
            $"{request.Method} {request.Path} takes a body of Content-Type {string.Join(" or ", accepted)}, not {given}",
            new Dictionary<string, object?> { ["accepted"] = accepted.ToArray() }));
    }

    private static Task Fail(HttpContext context, bool openAi, ApiException error)
    {
        if (openAi)
        {
            return OpenAiErrors.WriteAsync(context, error, chat: context.Request.Path.StartsWithSegments("/v1/chat", StringComparison.Ordinal));
        }
        throw error;
    }

    private static string Bounded(string text) => text.Length <= 80 ? text : text[..40] + "…" + text[^39..];

    /// <summary>The node's routes with a path matcher each, rebuilt when the endpoint list changes.</summary>
    private List<(TemplateMatcher Path, RouteEndpoint Endpoint)> Routes()
    {
        var endpoints = _endpoints.Endpoints;
        lock (_gate)
        {
            if (!ReferenceEquals(endpoints, _seen))
            {
                var routes = new List<(TemplateMatcher, RouteEndpoint)>();
                foreach (var endpoint in endpoints)
                {
                    if (endpoint is RouteEndpoint route)
                    {
                        routes.Add((new TemplateMatcher(new RouteTemplate(route.RoutePattern), new RouteValueDictionary(route.RoutePattern.Defaults)), route));
                    }
                }
                _routes = routes;
                _seen = endpoints;
            }
            return _routes;
        }
    }
}
