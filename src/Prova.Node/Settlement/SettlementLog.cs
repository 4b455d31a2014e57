using Prova.Core.Crypto;

namespace Prova.Node.Settlement;

/// <summary>The settlement loop's log messages (event ids 100–119). Never logs keys or users' tensors.</summary>
internal static partial class SettlementLog
{
    [LoggerMessage(100, LogLevel.Warning, "Chain mode could not start yet (RPC {Rpc}); retrying unless the settings are wrong")]
    public static partial void ConnectFailed(ILogger logger, Exception exception, string rpc);

    [LoggerMessage(101, LogLevel.Warning, "Settlement round failed; retrying")]
    public static partial void RoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(102, LogLevel.Information, "Registered {Address} on NodeRegistry with stake {Stake} wei at {Url}")]
    public static partial void Registered(ILogger logger, Address address, string stake, string url);

    [LoggerMessage(103, LogLevel.Information, "Posted batch {BatchId}: {Count} receipts, root {Root}, {Gas} gas")]
    public static partial void BatchPosted(ILogger logger, string batchId, int count, Hash256 root, ulong gas);

    [LoggerMessage(104, LogLevel.Information, "Collected fees of batch {BatchId}: {Fee} wei")]
    public static partial void FeesCollected(ILogger logger, string batchId, string fee);

    [LoggerMessage(105, LogLevel.Information, "Voted on challenge {ChallengeId}: output {Output} ({Relation} the receipt)")]
    public static partial void Voted(ILogger logger, string challengeId, Hash256 output, string relation);

    [LoggerMessage(106, LogLevel.Warning, "Cannot re-execute challenge {ChallengeId}: {Reason}; voting 0")]
    public static partial void CannotReExecute(ILogger logger, string challengeId, string reason);

    [LoggerMessage(107, LogLevel.Information, "Resolved challenge {ChallengeId}")]
    public static partial void Resolved(ILogger logger, string challengeId);

    [LoggerMessage(108, LogLevel.Information, "Fulfilled on-chain request {RequestId}: output {Output}")]
    public static partial void Fulfilled(ILogger logger, Hash256 requestId, Hash256 output);

    [LoggerMessage(109, LogLevel.Warning, "Skipped on-chain request {RequestId}: {Reason}")]
    public static partial void RequestSkipped(ILogger logger, Hash256 requestId, string reason);
}
