using System.Net;
using Prova.Node.Hosting;

namespace Prova.Node.Tests;

/// <summary>Chain mode's settings and API when no chain is configured.</summary>
public sealed class SettlementApiTests
{
    [Fact]
    public async Task Without_a_chain_the_settlement_routes_answer_chain_mode_off()
    {
        using var factory = new NodeFactory();
        using var http = factory.CreateClient();
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/v1/settlement"), (HttpMethod.Get, "/v1/settlement/receipts/0x" + new string('a', 64)), (HttpMethod.Post, "/v1/settlement/vouchers") })
        {
            var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? new StringContent("{}", System.Text.Encoding.UTF8, "application/json") : null });
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("chain-mode-off", path + " " + await response.Content.ReadAsStringAsync());
        }
        Assert.False(File.Exists(Path.Combine(factory.DataDir, "settlement.db")));
    }

    [Fact]
    public void Chain_settings_are_checked_and_named()
    {
        string Problems(Action<NodeOptions> change)
        {
            var o = new NodeOptions { DataDir = "/tmp/x" };
            change(o);
            return string.Join("\n", o.Problems());
        }
        Assert.Equal("", Problems(o => { o.Chain = "http://127.0.0.1:8545"; o.Deployment = "/tmp/d.json"; }));
        Assert.Contains("--chain", Problems(o => { o.Chain = "ftp://x"; o.Deployment = "/tmp/d.json"; }));
        Assert.Contains("needs Node:Deployment", Problems(o => o.Chain = "http://127.0.0.1:8545"));
        Assert.Contains("--stake", Problems(o => o.Stake = "1 ether"));
        Assert.Contains("BatchIntervalMs", Problems(o => o.BatchIntervalMs = 0));
        Assert.Contains("MaxBatchReceipts", Problems(o => o.MaxBatchReceipts = 0));
        Assert.Contains("ChainPollMs", Problems(o => o.ChainPollMs = 1));
    }

    [Fact]
    public async Task A_missing_deployment_file_stops_the_node_with_its_name()
    {
        string dir = Directory.CreateTempSubdirectory("prova-chain-bad-").FullName;
        try
        {
            var ex = await Assert.ThrowsAnyAsync<Prova.Core.ProvaException>(() => NodeHost.StartAsync(new NodeOptions
            {
                DataDir = dir,
                Listen = "127.0.0.1:0",
                Key = Prova.Core.Keys.PrivateKey.Generate(),
                Deployment = Path.Combine(dir, "nope.json"),
            }, Microsoft.Extensions.Logging.LogLevel.None));
            Assert.Contains("nope.json", ex.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
