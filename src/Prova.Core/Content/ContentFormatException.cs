namespace Prova.Core.Content;

/// <summary>A CID, manifest or publication record is malformed.</summary>
public sealed class ContentFormatException : ProvaException
{
    public ContentFormatException(string message) : base(message) { }

    public ContentFormatException(string message, Exception inner) : base(message, inner) { }
}
