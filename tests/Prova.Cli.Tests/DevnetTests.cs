using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Sdk;

namespace Prova.Cli.Tests;

/// <summary>Real devnets of `prova node start` child processes: quorum through the CLI, evidence, a node killed under load, `devnet up` itself.</summary>
public sealed class DevnetTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task<Cid> PushEverywhereAsync(Devnet devnet, string model)
    {
        var owner = PrivateKey.Generate();
        Cid cid = default;
        foreach (var node in devnet.Nodes)
        {
            using var client = new ProvaClient(node.Url);
            cid = (await client.PushAsync(model, new PushOptions { Name = "devnet/mlp" }, owner)).Cid;
        }
        return cid;
    }

    [Fact]
    public async Task QuorumThroughTheCliCatchesTheCorruptingNodeAndEvidenceNamesIt()
    {
        await using var devnet = await Devnet.StartAsync(new DevnetOptions { Nodes = 4, Faults = new Dictionary<int, string> { [3] = "corrupt-output" } });
        string model = RepoFiles.Get("models/fashion-mlp.onnx");
        var cid = await PushEverywhereAsync(devnet, model);
        string input = RepoFiles.Get("models/examples/fashion-test-00001.json");
        string seed = devnet.Nodes[0].Url.ToString();
        string liar = devnet.Nodes[3].Address.ToString();

        var ok = CliHarness.Run("infer", cid.ToString(), "--input", input, "--mode", "quorum:3", "--node", seed, "--exclude", liar, "-o", _dir.File("r.json"));
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains("3 distinct nodes signed the same output hash", ok.Out);
        var verified = CliHarness.Run("verify", _dir.File("r.json"), "--model", model);
        Assert.True(verified.ExitCode == 0, verified.ToString());
        Assert.Equal(3, JsonDocument.Parse(File.ReadAllText(_dir.File("r.json"))).RootElement.GetProperty("evidence").GetProperty("receipts").GetArrayLength());

        for (int i = 0; i < 3; i++)
        {
            string evidence = _dir.File($"evidence-{i}.json");
            var bad = CliHarness.Run("infer", cid.ToString(), "--input", input, "--mode", "quorum:3", "--node", seed, "--include", liar, "--evidence", evidence);
            Assert.True(bad.ExitCode == 1, bad.ToString());
            Assert.Contains("disagree", bad.Err);
            Assert.Contains(evidence, bad.Err);
            // The model is pulled from a node (verified against its CID) to re-execute.
            var check = CliHarness.Run("verify", evidence, "--node", seed, "--json");
            Assert.True(check.ExitCode == 0, check.ToString());
            var json = JsonDocument.Parse(check.Out).RootElement;
            Assert.Equal(liar, Assert.Single(json.GetProperty("liars").EnumerateArray()).GetString());
            Assert.Equal(2, json.GetProperty("honest").GetArrayLength());
        }
        // Evidence altered after the fact is rejected.
        string text = File.ReadAllText(_dir.File("evidence-0.json"));
        var doc = JsonDocument.Parse(text).RootElement;
        string someHash = doc.GetProperty("receipts")[0].GetProperty("outputHash").GetString()!;
        string otherHash = "0x" + new string('1', 64);
        File.WriteAllText(_dir.File("forged.json"), text.Replace(someHash, otherHash));
        var forged = CliHarness.Run("verify", _dir.File("forged.json"));
        Assert.Equal(1, forged.ExitCode);
    }

    [Fact]
    public async Task ChallengeTurnsQuorumEvidenceIntoAnOnChainVerdictThatSlashesTheLiar()
    {
        var chain = new ChainDevnet { ChainPollMs = 100 };
        await using var devnet = await Devnet.StartAsync(new DevnetOptions
        {
            Nodes = 4,
            Faults = new Dictionary<int, string> { [3] = "corrupt-output" },
            Components = [chain],
        });
        await chain.WaitForNodesAsync(devnet.Nodes.Select(n => n.Address), TimeSpan.FromSeconds(60));
        string model = RepoFiles.Get("models/fashion-mlp.onnx");
        var cid = await PushEverywhereAsync(devnet, model);
        string input = RepoFiles.Get("models/examples/fashion-test-00001.json");
        string seed = devnet.Nodes[0].Url.ToString();
        var liar = devnet.Nodes[3].Address;
        string evidence = _dir.File("evidence.json");
        var bad = CliHarness.Run("infer", cid.ToString(), "--input", input, "--mode", "quorum:3", "--node", seed, "--include", liar.ToString(), "--evidence", evidence);
        Assert.True(bad.ExitCode == 1, bad.ToString());

        // The challenger: a funded key of its own (not a node).
        var challenger = PrivateKey.Generate();
        KeyStore.Save(KeyStore.NodeKeyPath(_dir.File("challenger")), challenger, CliNodeFixture.Password, KeystoreOptions.Light);
        await chain.Anvil.SetBalanceAsync(challenger.Address, Node.Settlement.SettlementParameters.Ether);
        Environment.SetEnvironmentVariable(KeyPassword.EnvironmentVariable, CliNodeFixture.Password);
        string[] common = ["--chain", chain.Anvil.Url.AbsoluteUri, "--deployment", chain.DeploymentPath, "--data-dir", _dir.File("challenger")];

        // Evidence altered after the fact never reaches the chain.
        File.WriteAllText(_dir.File("forged.json"), File.ReadAllText(evidence).Replace(NodeOutputHash(evidence, 0), "0x" + new string('1', 64)));
        var forged = CliHarness.Run(["challenge", _dir.File("forged.json"), .. common]);
        Assert.True(forged.ExitCode == 1, forged.ToString());
        Assert.Contains("evidence rejected", forged.Err);

        using var reader = new Node.Settlement.SettlementChain(chain.Anvil.Client, challenger, chain.Deployment);
        var liarStake = await reader.StakeOfAsync(liar);
        var run = CliHarness.Run(["challenge", evidence, "--model", model, "--wait", "60", .. common]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("verdict NodeLied", run.Out);
        Assert.Contains($"node {liar} slashed", run.Out);
        Assert.True(await reader.StakeOfAsync(liar) < liarStake);

        // --json, on a second disagreement: the committee never includes an accused node; only the liar loses stake.
        var bad2 = CliHarness.Run("infer", cid.ToString(), "--input", input, "--mode", "quorum:3", "--node", seed, "--include", liar.ToString(), "--evidence", _dir.File("evidence2.json"));
        Assert.True(bad2.ExitCode == 1, bad2.ToString());
        var second = CliHarness.Run(["challenge", _dir.File("evidence2.json"), "--node", seed, "--json", "--wait", "60", .. common]);
        Assert.True(second.ExitCode == 0, second.ToString());
        var json = JsonDocument.Parse(second.Out).RootElement;
        Assert.Equal("NodeLied", json.GetProperty("verdict").GetString());
        var committee = json.GetProperty("committee").EnumerateArray().Select(e => e.GetString()).ToList();
        var accused = json.GetProperty("accused").EnumerateArray().ToDictionary(e => e.GetProperty("node").GetString()!, e => (Before: decimal.Parse(e.GetProperty("stakeBefore").GetString()!), After: decimal.Parse(e.GetProperty("stakeAfter").GetString()!)));
        Assert.Equal(2, accused.Count);
        foreach (var (node, (before, after)) in accused)
        {
            Assert.DoesNotContain(node, committee);
            if (node == liar.ToString())
            {
                Assert.True(after < before, $"the liar keeps {after} of {before}");
            }
            else
            {
                Assert.Equal(before, after);
            }
        }
        // The same receipts cannot be challenged twice.
        var again = CliHarness.Run(["challenge", evidence, "--model", model, .. common]);
        Assert.True(again.ExitCode == 2, again.ToString());
        Assert.Contains("AlreadyDisputed", again.Err);
    }

    private static string NodeOutputHash(string evidencePath, int i) =>
        JsonDocument.Parse(File.ReadAllText(evidencePath)).RootElement.GetProperty("receipts")[i].GetProperty("outputHash").GetString()!;

    [Fact]
    public async Task KillingANodeUnderLoadLosesNoRequest()
    {
        await using var devnet = await Devnet.StartAsync(new DevnetOptions { Nodes = 4 });
        var cid = await PushEverywhereAsync(devnet, RepoFiles.Get("models/fashion-mlp.onnx"));
        var inputs = TensorJson.ReadRequestFile(RepoFiles.Get("models/examples/fashion-test-00002.json"));
        // Peer lists are not re-fetched during the test, so the client learns of the crash only by its requests failing.
        using var network = devnet.Network(new ProvaNetworkOptions { RequestTimeout = TimeSpan.FromSeconds(10), RefreshInterval = TimeSpan.FromHours(1) });
        await network.RefreshAsync();
        const int Total = 60;
        int started = 0;
        int done = 0;
        var victim = devnet.Nodes[1];
        var killer = Task.Run(async () =>
        {
            while (Volatile.Read(ref done) < 15)
            {
                await Task.Delay(1);
            }
            devnet.Kill(1);
        });
        var results = new System.Collections.Concurrent.ConcurrentBag<NetworkInferenceResult>();
        // 8 clients in a closed loop: requests keep coming before, during and after the kill.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            int n;
            while ((n = Interlocked.Increment(ref started)) <= Total)
            {
                if (n > 30)
                {
                    // Requests after the 30th wait for the kill, so some certainly meet the dead node, however fast
                    // the first ones ran; the 16th to 30th are in flight around it.
                    await killer;
                }
                results.Add(await network.InferAsync(cid, inputs));
                Interlocked.Increment(ref done);
            }
        }));
        await killer;
        Assert.False(victim.IsRunning);
        Assert.Equal(Total, results.Count);
        Assert.Single(results.Select(r => r.OutputHash).Distinct());
        Assert.All(results, r => Assert.True(r.Answers[0].Verification.IsValid));
        Assert.Contains(results.SelectMany(r => r.Failures), f => f.Address == victim.Address);
    }

    [Fact]
    public async Task DevnetUpStartsHealthyNodesAndStopsThemAllOnSigterm()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in new[] { CliHarness.ProvaDll, "devnet", "up", "--nodes", "2", "--json" })
        {
            start.ArgumentList.Add(a);
        }
        using var parent = Process.Start(start)!;
        var pids = new List<int>();
        try
        {
            string? line = await parent.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(90));
            Assert.True(line is not null, "devnet up printed nothing");
            var nodes = JsonDocument.Parse(line).RootElement.GetProperty("nodes");
            Assert.Equal(2, nodes.GetArrayLength());
            foreach (var n in nodes.EnumerateArray())
            {
                pids.Add(n.GetProperty("pid").GetInt32());
                using var client = new ProvaClient(new Uri(n.GetProperty("url").GetString()!));
                Assert.True(await client.IsHealthyAsync());
                Assert.Equal(n.GetProperty("address").GetString(), (await client.GetNodeInfoAsync()).Address.ToString());
            }
            using (var term = Process.Start("kill", ["-TERM", parent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                term.WaitForExit();
            }
            Assert.True(parent.WaitForExit(30_000), "devnet up did not stop on SIGTERM");
            Assert.Equal(0, parent.ExitCode);
            foreach (int pid in pids)
            {
                Assert.False(Alive(pid), $"node process {pid} outlived the devnet");
            }
        }
        finally
        {
            if (!parent.HasExited)
            {
                parent.Kill(entireProcessTree: true);
            }
            foreach (int pid in pids.Where(Alive))
            {
                Process.GetProcessById(pid).Kill();
            }
        }
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [Fact]
    public void BadDevnetAndInferUsageIsExitTwoWithOneLine()
    {
        var fault = CliHarness.Run("devnet", "up", "--nodes", "2", "--fault", "5:corrupt-output");
        Assert.Equal(2, fault.ExitCode);
        Assert.Contains("node 5", fault.Err);
        var spec = CliHarness.Run("devnet", "up", "--fault", "corrupt-output");
        Assert.Equal(2, spec.ExitCode);
        Assert.Contains("i:SPEC", spec.Err);
        var mode = CliHarness.Run("infer", "bafkreial7j2nhedcrhfu6ni2z6hpv4kmlzgdpgi6yswlflsntrd6iv7bvu", "--input", RepoFiles.Get("models/examples/fashion-test-00001.json"), "--mode", "quorum:x");
        Assert.Equal(2, mode.ExitCode);
        Assert.Contains("quorum:K", mode.Err);
    }

    [Fact]
    public void NodeStartRefusesTheFaultOptionAndTheDevnetRejectsABadFaultBeforeStarting()
    {
        // Issue #14, defect 9: `prova node start --fault` made a real node lie, guarded by a warning only.
        // A child process with a deadline: a node that accepted the option would run until killed.
        var refused = CliHarness.RunProcess(["node", "start", "--data-dir", _dir.File("n"), "--listen", "127.0.0.1:0", "--fault", "corrupt-output"],
            new Dictionary<string, string?> { ["PROVA_KEY_PASSWORD"] = "test" }, timeoutMs: 30_000);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("--fault", refused.Err);
        Assert.False(Directory.Exists(_dir.File("n")), "the refused node must not have started");
        var help = CliHarness.Run("node", "start", "--help");
        Assert.DoesNotContain("--fault", help.Out);
        Assert.DoesNotContain("faulty-node", CliHarness.Run("devnet", "--help").Out);
        var badSpec = CliHarness.Run("devnet", "up", "--nodes", "2", "--fault", "1:explode");
        Assert.Equal(2, badSpec.ExitCode);
        Assert.Contains("'explode' is not a fault", badSpec.Err);
    }

    [Fact]
    public async Task TheDevnetsCrashAfterNodeDiesWithoutAnsweringAndItsHonestPeerServes()
    {
        await using var devnet = await Devnet.StartAsync(new DevnetOptions { Nodes = 2, Faults = new Dictionary<int, string> { [1] = "crash-after:1" } });
        var cid = await PushEverywhereAsync(devnet, RepoFiles.Get("models/fashion-mlp.onnx"));
        var inputs = TensorJson.ReadRequestFile(RepoFiles.Get("models/examples/fashion-test-00002.json"));
        using (var faulty = new ProvaClient(devnet.Nodes[1].Url, new ProvaClientOptions { RequestTimeout = TimeSpan.FromSeconds(20) }))
        {
            var first = await faulty.InferAsync(cid, inputs);
            Assert.True(first.Verification.IsValid && first.Receipt.Node == devnet.Nodes[1].Address);
            await Assert.ThrowsAnyAsync<Exception>(() => faulty.InferAsync(cid, inputs));
        }
        for (int i = 0; i < 100 && devnet.Nodes[1].IsRunning; i++)
        {
            await Task.Delay(100);
        }
        Assert.False(devnet.Nodes[1].IsRunning, "the crash-after node's process still runs");
        Assert.True(devnet.Nodes[0].IsRunning);
        using var honest = new ProvaClient(devnet.Nodes[0].Url);
        var served = await honest.InferAsync(cid, inputs);
        Assert.True(served.Verification.IsValid && served.Receipt.Node == devnet.Nodes[0].Address);
    }
}
