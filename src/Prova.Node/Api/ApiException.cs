namespace Prova.Node.Api;

/// <summary>
/// An error the API reports as a ProblemDetails (docs/node-api.md, "Errors"): a status, a stable
/// code, a one-line detail and optional extension members.
/// </summary>
public sealed class ApiException : Exception
{
    public ApiException(int status, string code, string detail, IReadOnlyDictionary<string, object?>? extensions = null)
        : base(detail)
    {
        Status = status;
        Code = code;
        Extensions = extensions ?? new Dictionary<string, object?>();
    }

    public int Status { get; }

    public string Code { get; }

    public IReadOnlyDictionary<string, object?> Extensions { get; }

    public static ApiException BadRequest(string detail) => new(StatusCodes.Status400BadRequest, "bad-request", detail);

    public static ApiException TooLarge(string limit, long maxBytes, string what) =>
        new(StatusCodes.Status413PayloadTooLarge, "payload-too-large",
            $"{what} is larger than {limit} ({maxBytes} bytes)",
            new Dictionary<string, object?> { ["limit"] = limit, ["maxBytes"] = maxBytes });

    public static ApiException UnknownModel(string cid) =>
        new(StatusCodes.Status404NotFound, "unknown-model", $"no model with CID {cid} is hosted on this node");
}
