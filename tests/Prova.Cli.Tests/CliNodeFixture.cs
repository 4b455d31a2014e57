using System.Text.Json;
using Microsoft.Extensions.Logging;
using Prova.Core.Keys;
using Prova.Node.Hosting;
using Prova.Node.Testing;

namespace Prova.Cli.Tests;

/// <summary>
/// A real node (in-process, random port) and a user key in <c>Dir/user</c> (a light keystore written
/// directly; 'prova key new' is exercised in the process test). Derived fixtures push their models and
/// make their result files in <see cref="PrepareAsync"/>.
/// </summary>
public abstract class CliNodeFixture : IAsyncLifetime
{
    public const string Password = "cli-test-password";

    public TempDir Dir { get; } = new();

    public NodeHost Node { get; private set; } = null!;

    public string Url => Node.Url.AbsoluteUri;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(KeyPassword.EnvironmentVariable, Password);
        Node = await NodeHost.StartAsync(new NodeOptions
        {
            DataDir = Dir.File("node"),
            Listen = "127.0.0.1:0",
            KeyPassword = "node",
        }, s => s.AddLightKeystore(), LogLevel.Warning);
        KeyStore.Save(KeyStore.NodeKeyPath(Dir.File("user")), PrivateKey.Generate(), Password, KeystoreOptions.Light);
        await PrepareAsync();
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        Dir.Dispose();
    }

    protected abstract Task PrepareAsync();

    /// <summary>'prova model push' of <paramref name="path"/> as <paramref name="name"/> with the user key; returns the CID.</summary>
    protected string Push(string path, string name)
    {
        var push = CliHarness.Run("model", "push", path, "--name", name, "--node", Url, "--data-dir", Dir.File("user"), "--json");
        Assert.True(push.ExitCode == 0, push.ToString());
        return JsonDocument.Parse(push.Out).RootElement.GetProperty("cid").GetString()!;
    }
}
