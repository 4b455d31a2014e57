using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core.Keys;
using Prova.Node.Hosting;

namespace Prova.Node.Tests;

/// <summary>
/// Issue #14, defect 8: a wrong method is a 405 with <c>Allow</c>, a wrong Content-Type a 415 naming the accepted
/// types, on every route of a real node on Kestrel (the routes read from the node's own route table).
/// </summary>
public sealed class RouteMismatchTests : IAsyncLifetime
{
    private static readonly string[] s_methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-routes-").FullName;
    private NodeHost _node = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _node = await NodeHost.StartAsync(new NodeOptions { DataDir = _dir, Listen = "127.0.0.1:0", Key = PrivateKey.Generate() }, Microsoft.Extensions.Logging.LogLevel.Critical);
        _http = new HttpClient { BaseAddress = _node.Url };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _node.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Every_route_answers_a_wrong_method_with_405_and_an_Allow_header_listing_its_methods()
    {
        var routes = _node.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        Assert.True(routes.Count >= 20, $"the node has {routes.Count} routes");
        // The oracle: routes with the same pattern (a trailing slash aside) share a path, so their methods together are the Allow set.
        var byPath = routes.GroupBy(r => Sample(r.RoutePattern.RawText!)).ToList();
        Assert.Contains(byPath, g => g.Key == "/v1/infer");
        Assert.Contains(byPath, g => g.Key == "/v1/chat/completions");
        Assert.Contains(byPath, g => g.Key == "/v1/settlement");
        int checkedRequests = 0;
        foreach (var route in byPath)
        {
            var allowed = route.SelectMany(r => r.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>()?.HttpMethods ?? []).ToHashSet(StringComparer.Ordinal);
            Assert.NotEmpty(allowed);
            bool openAi = route.Key is "/v1/chat/completions" or "/v1/completions";
            foreach (string method in s_methods.Where(m => !allowed.Contains(m)))
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), route.Key.TrimStart('/'));
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new ByteArrayContent("{}"u8.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
                }
                using var response = await _http.SendAsync(request);
                string body = await response.Content.ReadAsStringAsync();
                Assert.True(HttpStatusCode.MethodNotAllowed == response.StatusCode, $"{method} {route.Key}: {(int)response.StatusCode} {body}");
                var allow = response.Content.Headers.Allow.ToHashSet(StringComparer.Ordinal);
                Assert.True(allowed.SetEquals(allow), $"{method} {route.Key}: Allow '{string.Join(", ", allow)}', expected '{string.Join(", ", allowed)}'");
                using var json = JsonDocument.Parse(body);
                if (openAi)
                {
                    Assert.Equal("method_not_allowed", json.RootElement.GetProperty("error").GetProperty("code").GetString());
                }
                else
                {
                    Assert.Equal("method-not-allowed", json.RootElement.GetProperty("code").GetString());
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                }
                checkedRequests++;
            }
        }
        Assert.True(checkedRequests >= 3 * byPath.Count, $"{checkedRequests} requests checked");
    }

    [Theory]
    [InlineData("v1/infer", "text/plain", "application/json")]
    [InlineData("v1/infer", "application/x-www-form-urlencoded", "application/json")]
    [InlineData("v1/blobs", "application/json", "application/octet-stream")]
    [InlineData("v1/blobs", "text/plain", "application/octet-stream")]
    [InlineData("v1/bundles", "application/json", "application/octet-stream")]
    [InlineData("v1/models", "application/octet-stream", "application/json")]
    [InlineData("v1/peers/announce", "text/plain", "application/json")]
    [InlineData("v1/settlement/vouchers", "text/plain", "application/json")]
    public async Task A_body_of_the_wrong_Content_Type_is_a_415_naming_the_accepted_types(string path, string given, string accepted)
    {
        using var response = await _http.PostAsync(path, new ByteArrayContent(Encoding.UTF8.GetBytes("{}")) { Headers = { ContentType = new MediaTypeHeaderValue(given) } });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(HttpStatusCode.UnsupportedMediaType == response.StatusCode, $"POST {path} as {given}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("unsupported-media-type", json.RootElement.GetProperty("code").GetString());
        Assert.Contains(accepted, json.RootElement.GetProperty("accepted").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains(accepted, json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(given, json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1/chat/completions")]
    [InlineData("v1/completions")]
    public async Task OpenAi_routes_answer_a_wrong_Content_Type_with_a_415_in_OpenAIs_error_shape(string path)
    {
        using var response = await _http.PostAsync(path, new StringContent("{\"model\": \"m\"}", Encoding.UTF8, "text/plain"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(HttpStatusCode.UnsupportedMediaType == response.StatusCode, $"POST {path}: {(int)response.StatusCode} {body}");
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("application/json", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_path_no_route_has_is_still_a_404()
    {
        using var response = await _http.PostAsync("v1/nothing-here", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not-found", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Empty(response.Content.Headers.Allow);
    }

    /// <summary>A concrete path for a route pattern: each parameter replaced by a value of its kind.</summary>
    private static string Sample(string pattern)
    {
        string path = "/" + pattern.Trim('/');
        path = path.Replace("{cid}", Prova.Core.Content.Cid.ForBytes("x"u8).ToString(), StringComparison.Ordinal)
            .Replace("{index}", "0", StringComparison.Ordinal)
            .Replace("{requestId}", "0x" + new string('a', 64), StringComparison.Ordinal)
            .Replace("{documentName}", "v1", StringComparison.Ordinal);
        Assert.DoesNotContain("{", path, StringComparison.Ordinal);
        return path;
    }
}
