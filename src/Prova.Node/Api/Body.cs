namespace Prova.Node.Api;

/// <summary>Reads request bodies with a hard byte limit (413 naming the limit when exceeded).</summary>
internal static class Body
{
    public static async Task<byte[]> ReadAsync(HttpContext context, long maxBytes, string limitName, string what)
    {
        var request = context.Request;
        if (request.ContentLength is long declared && declared > maxBytes)
        {
            throw ApiException.TooLarge(limitName, maxBytes, what);
        }
        int capacity = request.ContentLength is long n ? (int)n : 16 * 1024;
        var buffer = new MemoryStream(capacity);
        var chunk = new byte[64 * 1024];
        while (true)
        {
            int read = await request.Body.ReadAsync(chunk, context.RequestAborted);
            if (read == 0)
            {
                break;
            }
            if (buffer.Length + read > maxBytes)
            {
                throw ApiException.TooLarge(limitName, maxBytes, what);
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }
}
