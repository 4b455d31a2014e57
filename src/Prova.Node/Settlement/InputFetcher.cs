using Prova.Core.Network;

namespace Prova.Node.Settlement;

/// <summary>
/// Fetches the inputs a challenge or an on-chain request points to: a <c>data:</c> URI
/// (<c>data:application/octet-stream;base64,…</c>) or an http(s) URL, at most <c>maxBytes</c> within the timeout.
/// Returns null when the inputs cannot be had; the caller checks their hash.
/// </summary>
public static class InputFetcher
{
    private static readonly HttpClient s_http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public static async Task<byte[]?> FetchAsync(string uri, long maxBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (uri.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            int comma = uri.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0 || !uri.AsSpan(5, comma - 5).EndsWith(";base64", StringComparison.OrdinalIgnoreCase) || (uri.Length - comma) / 4 * 3 > maxBytes)
            {
                return null;
            }
            try
            {
                return Convert.FromBase64String(uri[(comma + 1)..]);
            }
            catch (FormatException)
            {
                return null;
            }
        }
        if (!HttpUrl.TryParse(uri, out var url))
        {
            return null;
        }
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var response = await s_http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode || response.Content.Headers.ContentLength > maxBytes)
            {
                return null;
            }
            await using var stream = await response.Content.ReadAsStreamAsync(cts.Token).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cts.Token).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return null;
                }
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>A data: URI carrying <paramref name="bytes"/> (what a challenger can pass as inputURI).</summary>
    public static string DataUri(ReadOnlySpan<byte> bytes) => "data:application/octet-stream;base64," + Convert.ToBase64String(bytes);
}
