using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Prova.Node.Testing;
using Spectre.Console;

namespace Prova.Cli;

/// <summary><c>prova devnet up --nodes N</c>: a local network of N node processes until Ctrl+C or SIGTERM (docs/devnet.md).</summary>
internal static class DevnetCommand
{
    public static Command Create(CliContext context)
    {
        var nodes = new Option<int>("--nodes", "-n") { Description = "How many nodes.", DefaultValueFactory = _ => 4, HelpName = "N" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Keep the nodes' stores under D/node-<i> (default: a temporary directory, removed on stop).", HelpName = "D" };
        var replicas = new Option<int?>("--replicas") { Description = "Copies of each model beyond the first that the nodes keep.", HelpName = "R" };
        var fault = new Option<string[]>("--fault")
        {
            Description = "TESTS AND DEMOS ONLY: make node i misbehave, e.g. 3:corrupt-output, 1:slow:500, 2:crash-after:10 (repeatable).",
            HelpName = "i:SPEC",
            AllowMultipleArgumentsPerToken = false,
        };
        var chain = new Option<bool>("--chain") { Description = "Also start anvil, deploy the Prova contracts and run every node in chain mode (docs/settlement-node.md)." };
        var json = NetworkOptions.Json();
        var up = new Command("up", "Start N nodes on 127.0.0.1 with fresh keys, seeded with each other; print their endpoints; stop them all on Ctrl+C.")
        {
            nodes, dataDir, replicas, fault, chain, json,
        };
        up.SetAction(parse =>
        {
            var options = new DevnetOptions
            {
                Nodes = parse.GetValue(nodes),
                DataDir = parse.GetValue(dataDir),
                Replicas = parse.GetValue(replicas) is { } r
                    ? r >= 0 ? r : throw new CliException($"--replicas {r} must be at least 0")
                    : null,
                Faults = ParseFaults(parse.GetValue(fault) ?? []),
            };
            var chainDevnet = parse.GetValue(chain) ? new ChainDevnet() : null;
            if (chainDevnet is not null)
            {
                options = options with { Components = [chainDevnet] };
            }
            return Up(context, options, parse.GetValue(json), chainDevnet);
        });
        var command = new Command("devnet", "A local Prova network for development, demos and tests.") { up, FaultyNode(context) };
        return command;
    }

    /// <summary>
    /// <c>prova devnet faulty-node --fault SPEC …</c> (hidden): the devnet's misbehaving node, started by <see cref="Devnet"/>
    /// with <c>prova node start</c>'s options. Its faults are registered by the devnet host (Prova.Node.Testing.FaultyNode);
    /// <c>prova node start</c> has no way to turn them on.
    /// </summary>
    private static Command FaultyNode(CliContext context)
    {
        var fault = new Option<string>("--fault")
        {
            Description = "How this node misbehaves: corrupt-output, slow:<ms>, crash-after:<n>, corrupt-chunks (comma-separated).",
            HelpName = "SPEC",
            Required = true,
        };
        var command = new Command("faulty-node", "A devnet node that misbehaves on purpose (started by prova devnet up --fault and prova demo).") { Hidden = true };
        command.Options.Add(fault);
        var settings = NodeCommand.AddOptions(command);
        command.SetAction(parse =>
        {
            if (!NodeFaults.TryParse(parse.GetValue(fault), out var faults, out string? problem))
            {
                throw new CliException("--fault " + problem);
            }
            var (options, logLevel) = settings(parse);
            context.Error.WriteLine($"WARNING: FAULT INJECTION IS ON ({faults}): this devnet node misbehaves on purpose.");
            context.Error.Flush();
            return NodeCommand.Run(context, options, logLevel, services => services.AddFaults(faults));
        });
        return command;
    }

    internal static Dictionary<int, string> ParseFaults(IEnumerable<string> specs)
    {
        var faults = new Dictionary<int, string>();
        foreach (string spec in specs)
        {
            int colon = spec.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !int.TryParse(spec.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out int index) || colon == spec.Length - 1)
            {
                throw new CliException($"--fault '{spec}' is not i:SPEC (e.g. 3:corrupt-output)");
            }
            string value = spec[(colon + 1)..];
            faults[index] = faults.TryGetValue(index, out string? earlier) ? earlier + "," + value : value;
        }
        return faults;
    }

    private static int Up(CliContext context, DevnetOptions options, bool json, ChainDevnet? chain = null)
    {
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            Devnet devnet;
            try
            {
                devnet = Devnet.StartAsync(options, stop.Token).GetAwaiter().GetResult();
                try
                {
                    chain?.WaitForNodesAsync(devnet.Nodes.Select(n => n.Address), TimeSpan.FromSeconds(60), stop.Token).GetAwaiter().GetResult();
                }
                catch
                {
                    devnet.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    throw;
                }
            }
            catch (OperationCanceledException)
            {
                throw new CliException("interrupted");
            }
            // Also stop the nodes if this process is asked to exit some other way.
            EventHandler onExit = (_, _) => devnet.DisposeAsync().AsTask().GetAwaiter().GetResult();
            AppDomain.CurrentDomain.ProcessExit += onExit;
            try
            {
                Print(context, devnet, json);
                if (chain is not null && !json)
                {
                    context.Out.WriteLine($"chain: anvil {chain.Anvil.Url.AbsoluteUri.TrimEnd('/')} (chain id {chain.Deployment.ChainId}); every node registered and staked");
                    context.Out.WriteLine($"contracts: {chain.DeploymentPath}");
                    string userKey = Prova.Core.Keys.KeyStore.NodeKeyPath(NetworkOptions.DefaultDataDir);
                    if (File.Exists(userKey))
                    {
                        // So that 'prova challenge' works on this devnet with the user's own key.
                        var address = Prova.Core.Keys.KeyStore.ReadAddress(userKey);
                        chain.Anvil.SetBalanceAsync(address, ChainDevnet.NodeFunding).GetAwaiter().GetResult();
                        context.Out.WriteLine($"your key {address} ({userKey}) holds {EthUnits.Format(ChainDevnet.NodeFunding)} on this chain for transactions ('prova challenge')");
                    }
                }
                try
                {
                    Task.Delay(Timeout.Infinite, stop.Token).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                }
                if (!json)
                {
                    context.Out.WriteLine("stopping the devnet...");
                }
            }
            finally
            {
                devnet.DisposeAsync().AsTask().GetAwaiter().GetResult();
                AppDomain.CurrentDomain.ProcessExit -= onExit;
            }
            if (!json)
            {
                context.Out.WriteLine("devnet stopped");
            }
            return ExitCodes.Success;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static void Print(CliContext context, Devnet devnet, bool json)
    {
        if (json)
        {
            context.Out.WriteLine(File.ReadAllText(Path.Combine(devnet.Directory, "devnet.json")).Trim());
            context.Out.Flush();
            return;
        }
        var console = context.Console;
        var table = new Table().Border(TableBorder.Rounded).Title($"devnet: {devnet.Nodes.Count} node(s)");
        table.AddColumn("#");
        table.AddColumn("address");
        table.AddColumn("endpoint");
        table.AddColumn("fault");
        foreach (var n in devnet.Nodes)
        {
            table.AddRow(n.Index.ToString(CultureInfo.InvariantCulture), n.Address.ToString(), n.Url.AbsoluteUri.TrimEnd('/'),
                n.Fault is { } f ? $"[red]{Markup.Escape(f)}[/]" : "[grey]-[/]");
        }
        console.Write(table);
        console.MarkupLine($"[grey]data[/] {Markup.Escape(devnet.Directory)} [grey](devnet.json lists the nodes)[/]");
        console.MarkupLine($"[grey]use it:[/] export PROVA_NODE={Markup.Escape(devnet.Nodes[0].Url.AbsoluteUri.TrimEnd('/'))}   [grey](clients find the other nodes through its peer list)[/]");
        console.MarkupLine("[green]all nodes healthy[/]; Ctrl+C stops them all");
        context.Out.Flush();
    }
}
