using System.CommandLine;
using System.Globalization;
using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Network;
using Prova.Core.Receipts;
using Prova.Evm;
using Prova.Evm.Rpc;
using Prova.Node.Settlement;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// <c>prova challenge evidence.json --chain RPC --deployment F</c>: turns the evidence of a disagreeing quorum
/// into an on-chain challenge (<c>Settlement.reportConflict</c>: two receipts for one request with different
/// outputs; no bond), then waits for the committee's verdict (docs/settlement.md).
/// </summary>
internal static class ChallengeCommand
{
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(250);

    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("evidence") { Description = "An evidence file (written by 'prova infer --mode quorum:K' when the nodes disagree)." };
        var chain = new Option<string>("--chain") { Description = "The chain's JSON-RPC URL.", Required = true, HelpName = "URL" };
        var deployment = new Option<string>("--deployment") { Description = "The deployment file naming the Prova contracts (written by 'prova devnet up --chain').", Required = true, HelpName = "file" };
        var models = new ModelSourceOptions();
        var dataDir = NetworkOptions.DataDir();
        var keyFile = new Option<string?>("--key") { Description = "The keystore file that sends the transaction (default: <data-dir>/keys/node.json).", HelpName = "file" };
        var wait = new Option<int>("--wait")
        {
            Description = "Seconds to wait for the committee's verdict (0: open the challenge and return).",
            DefaultValueFactory = _ => 120,
            HelpName = "s",
        };
        var json = NetworkOptions.Json();
        var command = new Command("challenge", "Report a disagreeing quorum's receipts on chain: a committee of other staked nodes re-executes the model and the liar is slashed.")
        {
            file, chain, deployment, dataDir, keyFile, wait, json,
        };
        foreach (var option in models.All)
        {
            command.Options.Add(option);
        }
        command.SetAction(parse =>
        {
            if (parse.GetValue(wait) is < 0 or > 86_400)
            {
                throw new CliException("--wait must be between 0 and 86400 seconds");
            }
            var evidence = EvidenceFile.Parse(ResultFile.ReadBytes(parse.GetValue(file)!));
            var (options, _) = models.Apply(parse, evidence.Model, Prova.Lm.GenerationRequest.IsGenerationRequest(evidence.Inputs), new ResultVerifierOptions());
            var verification = EvidenceVerifier.Verify(evidence, options);
            if (verification.Failure is { } failure)
            {
                context.Error.WriteLine($"evidence rejected: {failure.Name}: {ProvaCli.OneLine(failure.Message)}");
                return ExitCodes.VerificationFailed;
            }
            var (accused, other) = Pair(evidence, verification);
            var settlement = Deployment.Load(parse.GetValue(deployment)!);
            foreach (var r in new[] { accused, other })
            {
                if (r.ChainId != settlement.ChainId || r.VerifyingContract != settlement.Settlement)
                {
                    throw new CliException($"the receipt of node {r.Node} is signed for chain {r.ChainId}, contract {r.VerifyingContract}, not for this deployment's Settlement {settlement.Settlement} on chain {settlement.ChainId}: it can only be challenged there");
                }
            }
            var key = NetworkOptions.LoadKey(parse.GetValue(keyFile), parse.GetValue(dataDir)!, "to send the challenge");
            string rpc = parse.GetValue(chain)!;
            if (!HttpUrl.TryParse(rpc, out var rpcUri))
            {
                throw new CliException($"--chain '{rpc}' is not an http(s) URL");
            }
            return NetworkOptions.Run(ct => RunAsync(context, new SettlementChain(new EthClient(rpcUri), key, settlement, ownsClient: true),
                evidence, accused, other, verification.Liars.Count > 0, TimeSpan.FromSeconds(parse.GetValue(wait)), parse.GetValue(json), ct));
        });
        return command;
    }

    /// <summary>
    /// The two receipts to report: a liar's and an honest one when re-execution named them, else the first
    /// receipt and the first that disagrees with it (the committee decides).
    /// </summary>
    private static (Receipt Accused, Receipt Other) Pair(EvidenceFile evidence, EvidenceVerification verification)
    {
        if (verification.Liars.Count > 0 && verification.Honest.Count > 0)
        {
            return (evidence.Receipts.First(r => r.Node == verification.Liars[0]), evidence.Receipts.First(r => r.Node == verification.Honest[0]));
        }
        var first = evidence.Receipts[0];
        return (first, evidence.Receipts.First(r => r.OutputHash != first.OutputHash));
    }

    private static async Task<int> RunAsync(CliContext context, SettlementChain chain, EvidenceFile evidence, Receipt accused, Receipt other,
        bool liarKnown, TimeSpan wait, bool json, CancellationToken ct)
    {
        using var _ = chain;
        var stakesBefore = new Dictionary<Address, BigInteger>
        {
            [accused.Node] = await chain.StakeOfAsync(accused.Node),
            [other.Node] = await chain.StakeOfAsync(other.Node),
        };
        string inputUri = InputFetcher.DataUri(CanonicalTensors.Encode(evidence.Inputs));
        BigInteger challengeId;
        Hash256 tx;
        try
        {
            var (id, receipt) = await chain.ReportConflictAsync(accused, other, inputUri, ct);
            (challengeId, tx) = (id, receipt.TransactionHash);
        }
        catch (EvmException ex) when (SettlementChain.RevertName(ex) is { } reason)
        {
            throw new CliException($"Settlement.reportConflict reverted: {reason}{(reason == "AlreadyDisputed" ? " (these receipts are already being challenged)" : "")}", ex);
        }
        var console = context.Console;
        if (!json)
        {
            console.MarkupLine($"[grey]Settlement.reportConflict[/] mined in {tx}: receipts of {accused.Node}{(liarKnown ? " [red](re-execution: lied)[/]" : "")} and {other.Node} disagree on request {accused.RequestId.ToString()[..18]}…");
        }
        ChallengeStatus status;
        if (challengeId.IsZero)
        {
            // One node signed both: equivocation is slashed in the same transaction.
            status = new ChallengeStatus(0, ChallengeVerdict.NodeLied, 0, [accused.Node], []);
        }
        else
        {
            status = await chain.ChallengeStatusAsync(challengeId);
            if (!json)
            {
                console.MarkupLine($"challenge [bold]{challengeId}[/]: committee {string.Join(", ", status.Committee)} re-executes the model");
            }
            var deadline = DateTime.UtcNow + wait;
            if (wait > TimeSpan.Zero && !json)
            {
                console.MarkupLine($"[grey]waiting up to {wait.TotalSeconds:0} s for the committee's votes…[/]");
            }
            while (status.Verdict == ChallengeVerdict.Pending && DateTime.UtcNow < deadline)
            {
                await Task.Delay(s_poll, ct);
                status = await chain.ChallengeStatusAsync(challengeId);
            }
        }
        var stakesAfter = new Dictionary<Address, BigInteger>();
        foreach (var node in stakesBefore.Keys)
        {
            stakesAfter[node] = await chain.StakeOfAsync(node);
        }
        if (json)
        {
            context.Out.WriteLine(ModelCommand.JsonObject(w =>
            {
                w.WriteString("challengeId", challengeId.ToString(CultureInfo.InvariantCulture));
                w.WriteString("transaction", tx.ToString());
                w.WriteString("verdict", status.Verdict.ToString());
                w.WriteStartArray("committee");
                foreach (var m in status.Committee)
                {
                    w.WriteStringValue(m.ToString());
                }
                w.WriteEndArray();
                w.WriteStartArray("accused");
                foreach (var (node, before) in stakesBefore)
                {
                    w.WriteStartObject();
                    w.WriteString("node", node.ToString());
                    w.WriteString("stakeBefore", before.ToString(CultureInfo.InvariantCulture));
                    w.WriteString("stakeAfter", stakesAfter[node].ToString(CultureInfo.InvariantCulture));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }));
        }
        else
        {
            foreach (var (node, before) in stakesBefore)
            {
                var after = stakesAfter[node];
                console.MarkupLine(after < before
                    ? $"  [red bold]✗ node {node} slashed[/]: stake {EthUnits.Format(before)} → {EthUnits.Format(after)}"
                    : $"  [green]✓ node {node}[/] keeps its stake of {EthUnits.Format(after)}");
            }
            console.MarkupLine(status.Verdict switch
            {
                ChallengeVerdict.NodeLied => "[green bold]verdict NodeLied[/]",
                ChallengeVerdict.Pending => $"[yellow]verdict pending[/]: the committee votes until {DateTimeOffset.FromUnixTimeSeconds((long)status.Deadline):u}; anyone may call resolve({challengeId}) after that",
                var v => $"[yellow bold]verdict {v}[/]",
            });
        }
        return status.Verdict is ChallengeVerdict.NodeLied or ChallengeVerdict.Pending ? ExitCodes.Success : ExitCodes.VerificationFailed;
    }
}
