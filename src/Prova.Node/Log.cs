using Prova.Core.Crypto;

namespace Prova.Node;

/// <summary>All of the node's log messages. Never log keys, passwords or users' tensors.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Node key {Address} loaded from {Path}")]
    public static partial void KeyLoaded(ILogger logger, Address address, string path);

    [LoggerMessage(2, LogLevel.Information, "Node key {Address} created at {Path}")]
    public static partial void KeyCreated(ILogger logger, Address address, string path);

    [LoggerMessage(3, LogLevel.Information, "Store at {DataDir}: {Blobs} blobs, {Chunks} chunks; recovery removed {Temp} temp files, forgot {Lost} lost chunks, adopted {Adopted}, deleted {Bad} bad files")]
    public static partial void StoreOpened(ILogger logger, string dataDir, long blobs, long chunks, int temp, int lost, int adopted, int bad);

    [LoggerMessage(4, LogLevel.Error, "Stored chunk {Index} of {Cid} is corrupted on disk ({Path}); dropped it so a re-push repairs it")]
    public static partial void CorruptChunk(ILogger logger, string cid, int index, string path);

    [LoggerMessage(5, LogLevel.Information, "Published {Name} {Version} as {Cid} (owner {Owner})")]
    public static partial void Published(ILogger logger, string name, string version, string cid, Address owner);

    [LoggerMessage(6, LogLevel.Warning, "Rejected chunk {Index} of {Cid}: its bytes do not match the manifest")]
    public static partial void ChunkRejected(ILogger logger, string cid, int index);

    [LoggerMessage(7, LogLevel.Error, "Unhandled error on {Method} {Path}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(8, LogLevel.Information, "Prova node {Address} listening on {Url}")]
    public static partial void Listening(ILogger logger, Address address, string url);

    [LoggerMessage(9, LogLevel.Information, "Loaded model {Cid} for inference")]
    public static partial void ModelLoaded(ILogger logger, string cid);
}
