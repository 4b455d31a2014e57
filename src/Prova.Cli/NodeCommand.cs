using System.CommandLine;
using Microsoft.Extensions.Logging;
using Prova.Node.Hosting;

namespace Prova.Cli;

/// <summary><c>prova node start</c>: runs a node (Prova.Node's NodeHost) until Ctrl+C or SIGTERM.</summary>
internal static class NodeCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("node", "Run a Prova node.");
        var dataDir = NetworkOptions.DataDir();
        var listen = new Option<string>("--listen")
        {
            Description = "HOST:PORT to listen on (port 0 picks a free one).",
            DefaultValueFactory = _ => "127.0.0.1:7420",
            HelpName = "HOST:PORT",
        };
        var chainId = new Option<string>("--chain-id") { Description = "EIP-712 chain id of receipts and publications.", DefaultValueFactory = _ => "31337", HelpName = "ID" };
        var verbose = new Option<bool>("--verbose") { Description = "Log every request." };
        var peers = new Option<string?>("--peers") { Description = "Seed peers to join the network through (comma-separated base URLs).", HelpName = "URL,..." };
        var replicas = new Option<int>("--replicas") { Description = "Copies of each model beyond the first the network keeps (docs/network.md).", DefaultValueFactory = _ => 2, HelpName = "R" };
        var gossip = new Option<int>("--gossip-interval") { Description = "Milliseconds between peer exchanges.", DefaultValueFactory = _ => 2000, HelpName = "MS" };
        var publicUrl = new Option<string?>("--public-url") { Description = "URL other nodes reach this node at (default: the listening URL).", HelpName = "URL" };
        var fault = new Option<string?>("--fault")
        {
            Description = "TESTS ONLY: make this node misbehave: corrupt-output, slow:<ms>, crash-after:<n>, corrupt-chunks (comma-separated).",
            HelpName = "SPEC",
        };
        var chain = new Option<string?>("--chain") { Description = "Settle on an EVM chain: its JSON-RPC URL (docs/settlement-node.md); needs --deployment.", HelpName = "RPC-URL" };
        var deployment = new Option<string?>("--deployment") { Description = "Deployment file naming the Prova contracts (written by prova devnet up --chain).", HelpName = "FILE" };
        var stake = new Option<string?>("--stake") { Description = "Stake in wei sent when registering (default: the registry's minimum).", HelpName = "WEI" };
        var batchInterval = new Option<int>("--batch-interval") { Description = "Chain mode: milliseconds between receipt batches posted on chain.", DefaultValueFactory = _ => 10_000, HelpName = "MS" };
        var chainPoll = new Option<int>("--chain-poll") { Description = "Chain mode: milliseconds between reads of chain events (challenges, requests, fees).", DefaultValueFactory = _ => 1000, HelpName = "MS" };
        var start = new Command("start", "Start a node: model store, inference API with signed receipts (docs/node-api.md), peers and replication (docs/network.md). Ctrl+C stops it.")
        {
            dataDir, listen, chainId, verbose, peers, replicas, gossip, publicUrl, fault, chain, deployment, stake, batchInterval, chainPoll,
        };
        start.SetAction(parse =>
        {
            var options = new NodeOptions
            {
                DataDir = Path.GetFullPath(parse.GetValue(dataDir)!),
                Listen = parse.GetValue(listen)!,
                ChainId = parse.GetValue(chainId)!,
                Peers = (parse.GetValue(peers) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList(),
                Replicas = parse.GetValue(replicas),
                GossipIntervalMs = parse.GetValue(gossip),
                PublicUrl = parse.GetValue(publicUrl),
                Faults = parse.GetValue(fault),
                Chain = parse.GetValue(chain),
                Deployment = parse.GetValue(deployment) is { } d ? Path.GetFullPath(d) : null,
                Stake = parse.GetValue(stake),
                BatchIntervalMs = parse.GetValue(batchInterval),
                ChainPollMs = parse.GetValue(chainPoll),
            };
            options.KeyPassword = NetworkOptions.Password(confirm: !File.Exists(Prova.Core.Keys.KeyStore.NodeKeyPath(options.DataDir)));
            return Run(context, options, parse.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning);
        });
        command.Subcommands.Add(start);
        return command;
    }

    private static int Run(CliContext context, NodeOptions options, LogLevel logLevel)
    {
        if (Prova.Node.Network.NodeFaults.TryParse(options.Faults, out var faults, out _) && faults.Any)
        {
            context.Error.WriteLine($"WARNING: FAULT INJECTION IS ON ({faults}): this node misbehaves on purpose. Never use --fault outside tests.");
            context.Error.Flush();
        }
        var host = NodeHost.StartAsync(options, logLevel).GetAwaiter().GetResult();
        try
        {
            context.Out.WriteLine($"node {host.Address} listening on {host.Url.AbsoluteUri.TrimEnd('/')}");
            if (options.Deployment is not null)
            {
                var settlement = host.Services.GetService(typeof(Prova.Node.Settlement.SettlementService)) as Prova.Node.Settlement.SettlementService;
                context.Out.WriteLine($"chain mode: receipts settle on chain {settlement?.Deployment.ChainId} via Settlement {settlement?.Deployment.Settlement}");
            }
            context.Out.WriteLine($"data directory {options.DataDir}; Ctrl+C to stop");
            context.Out.Flush();
            // The host's console lifetime turns Ctrl+C / SIGTERM into a graceful stop.
            host.WaitForShutdownAsync().GetAwaiter().GetResult();
        }
        finally
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        context.Out.WriteLine("node stopped");
        return ExitCodes.Success;
    }
}
