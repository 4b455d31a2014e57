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

    [LoggerMessage(20, LogLevel.Debug, "Peer {Address} announced itself at {Url}")]
    public static partial void PeerAnnounced(ILogger logger, Address address, string url);

    [LoggerMessage(21, LogLevel.Information, "Dropped peer {Address}: {Reason}")]
    public static partial void PeerDropped(ILogger logger, Address address, string reason);

    [LoggerMessage(22, LogLevel.Warning, "A gossip round failed")]
    public static partial void GossipFailed(ILogger logger, Exception exception);

    [LoggerMessage(23, LogLevel.Information, "Replicating {Cid} from {Sources} peers")]
    public static partial void Replicating(ILogger logger, string cid, int sources);

    [LoggerMessage(24, LogLevel.Information, "Replicated {Cid} ({Name} {Version}): {Chunks} chunks pulled")]
    public static partial void Replicated(ILogger logger, string cid, string name, string version, int chunks);

    [LoggerMessage(25, LogLevel.Warning, "Peer {Peer} served a bad chunk {Index} of {Cid}; skipping it for this transfer")]
    public static partial void BadChunkFromPeer(ILogger logger, string peer, string cid, int index);

    [LoggerMessage(26, LogLevel.Warning, "Replication of {Cid} failed: {Reason}")]
    public static partial void ReplicationFailed(ILogger logger, string cid, string reason);

    [LoggerMessage(27, LogLevel.Warning, "FAULT INJECTION IS ON ({Faults}): this node misbehaves on purpose, for tests only")]
    public static partial void FaultsOn(ILogger logger, string faults);

    [LoggerMessage(28, LogLevel.Critical, "Fault crash-after: crashing on inference request {Count}")]
    public static partial void FaultCrash(ILogger logger, long count);

    [LoggerMessage(140, LogLevel.Information, "Store garbage collection: deleted {Contents} unpublished manifests and {Chunks} chunks ({Bytes} bytes) untouched for {AgeSeconds} s or unreferenced")]
    public static partial void GarbageCollected(ILogger logger, int contents, int chunks, long bytes, int ageSeconds);

    [LoggerMessage(141, LogLevel.Warning, "Withdrew {Cid} from what this node advertises: a chunk of it is missing or corrupted; it is re-fetched from a peer that hosts it")]
    public static partial void Withdrawn(ILogger logger, string cid);

    [LoggerMessage(142, LogLevel.Information, "Repaired {Cid}: every chunk is stored again; advertising it again")]
    public static partial void Repaired(ILogger logger, string cid);

    [LoggerMessage(143, LogLevel.Warning, "Store garbage collection failed; it is tried again later")]
    public static partial void GarbageCollectionFailed(ILogger logger, Exception exception);
}
