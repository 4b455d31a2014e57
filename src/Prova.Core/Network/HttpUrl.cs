using System.Diagnostics.CodeAnalysis;

namespace Prova.Core.Network;

/// <summary>The one check every network address in Prova passes: an absolute http:// or https:// URL.</summary>
public static class HttpUrl
{
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Uri? uri)
    {
        if (text is not null && Uri.TryCreate(text, UriKind.Absolute, out uri) && uri.Scheme is "http" or "https")
        {
            return true;
        }
        uri = null;
        return false;
    }
}
