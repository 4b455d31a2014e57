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
        var start = new Command("start", "Start a node: model store, inference API with signed receipts (docs/node-api.md). Ctrl+C stops it.")
        {
            dataDir, listen, chainId, verbose,
        };
        start.SetAction(parse =>
        {
            var options = new NodeOptions
            {
                DataDir = Path.GetFullPath(parse.GetValue(dataDir)!),
                Listen = parse.GetValue(listen)!,
                ChainId = parse.GetValue(chainId)!,
            };
            options.KeyPassword = NetworkOptions.Password(confirm: !File.Exists(Prova.Core.Keys.KeyStore.NodeKeyPath(options.DataDir)));
            return Run(context, options, parse.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning);
        });
        command.Subcommands.Add(start);
        return command;
    }

    private static int Run(CliContext context, NodeOptions options, LogLevel logLevel)
    {
        var host = NodeHost.StartAsync(options, logLevel).GetAwaiter().GetResult();
        try
        {
            context.Out.WriteLine($"node {host.Address} listening on {host.Url.AbsoluteUri.TrimEnd('/')}");
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
