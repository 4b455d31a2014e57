using Prova.Core;

namespace Prova.Sdk;

/// <summary>
/// A request to a node failed: the node answered with a ProblemDetails (<see cref="Status"/>, <see cref="Code"/>,
/// <see cref="Detail"/> from the node), could not be reached, timed out, or sent something the client refuses.
/// The message is one line meant for people; <see cref="Code"/> is meant for programs.
/// </summary>
public class ProvaClientException : ProvaException
{
    public ProvaClientException(string message, string code, int? status = null, string? detail = null, Exception? inner = null)
        : base(message, inner!)
    {
        Code = code;
        Status = status;
        Detail = detail ?? message;
    }

    /// <summary>The HTTP status of the node's answer; null when there was no answer (unreachable, timeout).</summary>
    public int? Status { get; }

    /// <summary>The node's problem code (docs/node-api.md), or a client-side code: <c>unreachable</c>, <c>timeout</c>, <c>bad-response</c>, <c>too-large</c>, <c>chunk-mismatch</c>, <c>manifest-mismatch</c>.</summary>
    public string Code { get; }

    /// <summary>The node's <c>detail</c> (or the client's description of the problem).</summary>
    public string Detail { get; }
}

/// <summary>Content received from a node does not match its CID: the node (or something between) lied. Nothing was written to the destination.</summary>
public sealed class ContentVerificationException : ProvaClientException
{
    public ContentVerificationException(string message, string code, int? chunkIndex)
        : base(message, code)
    {
        ChunkIndex = chunkIndex;
    }

    /// <summary>The chunk whose bytes did not hash to the manifest's entry; null when the manifest itself did not match the CID.</summary>
    public int? ChunkIndex { get; }
}
