using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prova.Node.Hosting;

namespace Prova.Cli;

/// <summary><c>prova node start</c>: runs a node (Prova.Node's NodeHost) until Ctrl+C or SIGTERM.</summary>
internal static class NodeCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("node", "Run a Prova node.");
        var start = new Command("start", "Start a node: model store, inference API with signed receipts (docs/node-api.md), peers and replication (docs/network.md). Ctrl+C stops it.");
        var settings = AddOptions(start);
        start.SetAction(parse =>
        {
            var (options, logLevel) = settings(parse);
            return Run(context, options, logLevel, services: null);
        });
        command.Subcommands.Add(start);
        return command;
    }

    /// <summary>
    /// Adds the options of <c>prova node start</c> to <paramref name="command"/> (also the devnet's hidden faulty node);
    /// returns how to read the node's settings and log level from a parse.
    /// </summary>
    internal static Func<ParseResult, (NodeOptions Options, LogLevel LogLevel)> AddOptions(Command command)
    {
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
        var chain = new Option<string?>("--chain") { Description = "Settle on an EVM chain: its JSON-RPC URL (docs/settlement-node.md); needs --deployment.", HelpName = "RPC-URL" };
        var deployment = new Option<string?>("--deployment") { Description = "Deployment file naming the Prova contracts (written by prova devnet up --chain).", HelpName = "FILE" };
        var stake = new Option<string?>("--stake") { Description = "Stake in wei sent when registering (default: the registry's minimum).", HelpName = "WEI" };
        var batchInterval = new Option<int>("--batch-interval") { Description = "Chain mode: milliseconds between receipt batches posted on chain.", DefaultValueFactory = _ => 10_000, HelpName = "MS" };
        var chainPoll = new Option<int>("--chain-poll") { Description = "Chain mode: milliseconds between reads of chain events (challenges, requests, fees).", DefaultValueFactory = _ => 1000, HelpName = "MS" };
        foreach (var option in new Option[] { dataDir, listen, chainId, verbose, peers, replicas, gossip, publicUrl, chain, deployment, stake, batchInterval, chainPoll })
        {
            command.Options.Add(option);
        }
        return parse =>
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
                Chain = parse.GetValue(chain),
                Deployment = parse.GetValue(deployment) is { } d ? Path.GetFullPath(d) : null,
                Stake = parse.GetValue(stake),
                BatchIntervalMs = parse.GetValue(batchInterval),
                ChainPollMs = parse.GetValue(chainPoll),
            };
            options.KeyPassword = NetworkOptions.Password(confirm: !File.Exists(Prova.Core.Keys.KeyStore.NodeKeyPath(options.DataDir)));
            return (options, parse.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning);
        };
    }

    /// <summary>Runs the node until it shuts down; <paramref name="services"/> is the devnet host's seam (null for <c>prova node start</c>).</summary>
    internal static int Run(CliContext context, NodeOptions options, LogLevel logLevel, Action<IServiceCollection>? services)
    {
        var host = NodeHost.StartAsync(options, services, logLevel).GetAwaiter().GetResult();
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
