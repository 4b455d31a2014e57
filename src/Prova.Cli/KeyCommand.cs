using System.CommandLine;
using System.Text.Json;
using Prova.Core.Keys;
using Spectre.Console;

namespace Prova.Cli;

/// <summary><c>prova key new | show</c>: the key in &lt;data-dir&gt;/keys/node.json (docs/keys.md). The private key is never printed.</summary>
internal static class KeyCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("key", "Create or show the key (node id / model owner) in <data-dir>/keys/node.json.");
        command.Subcommands.Add(New(context));
        command.Subcommands.Add(Show(context));
        return command;
    }

    private static Command New(CliContext context)
    {
        var dataDir = NetworkOptions.DataDir();
        var force = new Option<bool>("--force") { Description = "Replace an existing key (its old identity is lost)." };
        var json = NetworkOptions.Json();
        var command = new Command("new", "Generate a new secp256k1 key, encrypted with a password ($PROVA_KEY_PASSWORD or a prompt).") { dataDir, force, json };
        command.SetAction(parse =>
        {
            string path = KeyStore.NodeKeyPath(parse.GetValue(dataDir)!);
            if (File.Exists(path) && !parse.GetValue(force))
            {
                throw new CliException($"a key already exists at {path} (use --force to replace it)");
            }
            string password = NetworkOptions.Password(confirm: true);
            var key = PrivateKey.Generate();
            KeyStore.Save(path, key, password, KeystoreOptions.Default, overwrite: parse.GetValue(force));
            Print(context, parse.GetValue(json), key.Address.ToString(), path, "created key");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Show(CliContext context)
    {
        var dataDir = NetworkOptions.DataDir();
        var json = NetworkOptions.Json();
        var command = new Command("show", "Print the key's address (no password needed).") { dataDir, json };
        command.SetAction(parse =>
        {
            string path = KeyStore.NodeKeyPath(parse.GetValue(dataDir)!);
            if (!File.Exists(path))
            {
                throw new CliException($"no key at {path} (create one with 'prova key new')");
            }
            Print(context, parse.GetValue(json), KeyStore.ReadAddress(path).ToString(), path, "key");
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Print(CliContext context, bool json, string address, string path, string label)
    {
        if (json)
        {
            context.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, string> { ["address"] = address, ["path"] = path }));
            return;
        }
        context.Console.MarkupLine($"[grey]{label}:[/] [bold]{address}[/]");
        context.Console.MarkupLine($"[grey]file:[/]    {Markup.Escape(path)}");
    }
}
