using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Network;
using Prova.Node.Hosting;
using Prova.Node.Network;
using Xunit.Abstractions;

namespace Prova.Node.Tests;

/// <summary>Peer records, the peer exchange and dropping dead peers, on real Kestrel nodes (docs/network.md).</summary>
public sealed class PeerTests
{
    private static readonly PrivateKey s_stranger = PrivateKey.FromHex("0x" + new string('5', 64));

    internal static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting until {what}");
            }
            await Task.Delay(20);
        }
    }

    private static ulong Now => (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string RecordJson(PeerRecord record) => Encoding.UTF8.GetString(record.ToJson());

    [Fact]
    public void A_record_signs_the_documented_text_and_verifies_only_unaltered()
    {
        var cids = new[] { Cid.ForBytes([2]), Cid.ForBytes([1]) };
        var record = PeerRecord.Create(s_stranger, "http://127.0.0.1:5000", cids, 1_700_000_000);
        string sorted = string.Join(',', cids.Select(c => c.ToString()).Order(StringComparer.Ordinal));
        string expected = $"prova-peer\n{s_stranger.Address}\nhttp://127.0.0.1:5000\n1700000000\n{sorted}";
        Assert.Equal(expected, record.SigningText());
        Assert.Equal(s_stranger.Address, Eip191.RecoverPersonalMessage(expected, record.Signature));
        record.Verify(1_700_000_010, 120);

        var roundTrip = PeerRecord.FromJson(JsonDocument.Parse(record.ToJson()).RootElement);
        roundTrip.Verify(1_700_000_010, 120);
        Assert.Throws<PeerRecordException>(() => (record with { Url = "http://127.0.0.1:5001" }).Verify(1_700_000_010, 120));
        Assert.Throws<PeerRecordException>(() => (record with { Models = [cids[0]] }).Verify(1_700_000_010, 120));
        Assert.Throws<PeerRecordException>(() => (record with { Timestamp = 1_700_000_001 }).Verify(1_700_000_010, 120));
        Assert.Throws<PeerRecordException>(() => record.Verify(1_700_000_000 + 121, 120)); // stale
        Assert.Throws<PeerRecordException>(() => record.Verify(1_700_000_000 - 61, 120)); // from the future
    }

    [Fact]
    public async Task Gossip_converges_on_four_nodes_started_from_a_chain_of_seeds()
    {
        // Node i knows only node i-1; everyone must learn everyone.
        await using var net = await LocalCluster.StartAsync(4);
        Assert.Empty(net[0].Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NodeOptions>>().Value.Peers);
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));

        using var http = new HttpClient { BaseAddress = net[0].Url };
        var body = JsonDocument.Parse(await http.GetStringAsync("/v1/peers")).RootElement;
        var self = PeerRecord.FromJson(body.GetProperty("self"));
        self.Verify(Now, 120);
        Assert.Equal(net[0].Address, self.Address);
        Assert.Equal(net[0].Url.AbsoluteUri.TrimEnd('/'), self.Url);
        var peers = body.GetProperty("peers").EnumerateArray().Select(PeerRecord.FromJson).ToList();
        Assert.Equal(net.Nodes.Skip(1).Select(n => n.Address.ToString()).Order(), peers.Select(p => p.Address.ToString()).Order());
        foreach (var (peer, node) in peers.Join(net.Nodes, p => p.Address, n => n.Address, (p, n) => (p, n)))
        {
            peer.Verify(Now, 120);
            Assert.Equal(node.Url.AbsoluteUri.TrimEnd('/'), peer.Url);
        }
    }

    [Fact]
    public async Task A_forged_or_altered_record_is_refused_with_400_and_not_added()
    {
        await using var net = await LocalCluster.StartAsync(1);
        using var http = new HttpClient { BaseAddress = net[0].Url };
        var genuine = PeerRecord.Create(s_stranger, "http://127.0.0.1:9", [], Now);

        // Signed by another key than the address it claims.
        var impostor = PrivateKey.FromHex("0x" + new string('6', 64));
        var forged = genuine with { Signature = Eip191.SignPersonalMessage(impostor, genuine.SigningText()) };
        // Altered after signing: another URL, a model added, a later timestamp.
        var altered = new[]
        {
            forged,
            genuine with { Url = "http://127.0.0.1:10" },
            genuine with { Models = [Cid.ForBytes([7])] },
            genuine with { Timestamp = genuine.Timestamp + 1 },
            PeerRecord.Create(s_stranger, "http://127.0.0.1:9", [], Now - 10_000), // stale
            PeerRecord.Create(s_stranger, "http://127.0.0.1:9", [], Now + 10_000), // from the future
        };
        foreach (var record in altered)
        {
            var response = await http.PostAsync("/v1/peers/announce", Json(RecordJson(record)));
            await TestClient.ExpectProblem(response, 400, "invalid-peer-record");
        }
        foreach (string junk in new[] { "{}", "[]", "nope", "{\"address\": 5}", RecordJson(genuine).Replace("http://", "ftp://", StringComparison.Ordinal) })
        {
            var response = await http.PostAsync("/v1/peers/announce", Json(junk));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        var big = await http.PostAsync("/v1/peers/announce", Json("{\"pad\": \"" + new string('x', PeerRecord.MaxRecordBytes) + "\"}"));
        await TestClient.ExpectProblem(big, 413, "payload-too-large");
        Assert.Empty(net[0].Peers());
        var list = JsonDocument.Parse(await http.GetStringAsync("/v1/peers")).RootElement;
        Assert.Equal(0, list.GetProperty("peers").GetArrayLength());

        // The genuine record is accepted and the answer is the receiver's list.
        var ok = await http.PostAsync("/v1/peers/announce", Json(RecordJson(genuine)));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var answer = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(net[0].Address.ToString(), answer.GetProperty("self").GetProperty("address").GetString());
        Assert.Equal(s_stranger.Address, Assert.Single(net[0].Peers()).Record.Address);
    }

    [Fact]
    public async Task A_node_that_stops_answering_is_dropped_and_not_revived_by_gossip()
    {
        await using var net = await LocalCluster.StartAsync(3);
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));
        var dead = net[2].Address;
        await net.StopAsync(2);
        await WaitUntil(() => net.Nodes.Take(2).All(n => n.Peers().All(p => p.Record.Address != dead)),
            TimeSpan.FromSeconds(15), "both live nodes drop the stopped one");
        // Several more rounds: the live nodes still know each other and the dead one stays gone.
        await Task.Delay(600);
        Assert.Equal(net[1].Address, Assert.Single(net[0].Peers()).Record.Address);
        Assert.Equal(net[0].Address, Assert.Single(net[1].Peers()).Record.Address);
    }

    [Fact]
    public async Task The_peer_table_is_bounded()
    {
        await using var net = await LocalCluster.StartAsync(1, (_, o) => o.MaxPeers = 3);
        using var http = new HttpClient { BaseAddress = net[0].Url };
        for (int i = 0; i < 6; i++)
        {
            var key = PrivateKey.Generate();
            var record = PeerRecord.Create(key, $"http://127.0.0.1:{10 + i}", [], Now);
            var response = await http.PostAsync("/v1/peers/announce", Json(RecordJson(record)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(3, net[0].Peers().Count);
    }

    [Fact]
    public void Bad_network_settings_are_refused_at_start()
    {
        var options = new NodeOptions { Peers = ["not a url", "http://127.0.0.1:1/path"], Replicas = -1, GossipIntervalMs = 0 };
        var problems = string.Join("\n", options.Problems());
        Assert.Contains("'not a url'", problems);
        Assert.Contains("/path", problems);
        Assert.Contains("Node:Replicas", problems);
        Assert.Contains("Node:GossipIntervalMs", problems);
    }
}

/// <summary>Fuzzing the peer record parser and the announce route: bad input is a 400/413 ProblemDetails, never a 500 or a crash.</summary>
public sealed class PeerFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Mutated_announces_are_refused_cleanly_and_never_enter_the_table()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        await using var net = await LocalCluster.StartAsync(1);
        using var http = new HttpClient { BaseAddress = net[0].Url };
        var key = PrivateKey.FromHex("0x" + new string('7', 64));
        var record = PeerRecord.Create(key, "http://127.0.0.1:9", [Cid.ForBytes([1]), Cid.ForBytes([2])], (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        byte[] genuine = record.ToJson();
        int accepted = 0;
        for (int i = 0; i < 300; i++)
        {
            byte[] body = (byte[])genuine.Clone();
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++)
            {
                switch (rng.Next(3))
                {
                    case 0:
                        body[rng.Next(body.Length)] = (byte)rng.Next(256);
                        break;
                    case 1:
                        body = body[..rng.Next(body.Length)];
                        break;
                    default:
                        int at = rng.Next(body.Length + 1);
                        body = [.. body[..at], (byte)rng.Next(256), .. body[at..]];
                        break;
                }
                if (body.Length == 0)
                {
                    break;
                }
            }
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            var response = await http.PostAsync("/v1/peers/announce", content);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                // Only a mutation that leaves the signed fields intact (e.g. whitespace) may pass.
                var parsed = PeerRecord.FromJson(JsonDocument.Parse(body).RootElement);
                Assert.Equal(record.SigningText(), parsed.SigningText());
                accepted++;
                continue;
            }
            await TestClient.ExpectProblem(response, 400);
        }
        output.WriteLine($"{accepted} of 300 mutations kept the record valid");
        Assert.True(net[0].Peers().All(p => p.Record.Address == key.Address && p.Record.SigningText() == record.SigningText()));

        // The list parser on the same mutations: a typed exception or a list, nothing else.
        byte[] list = PeerList.Write(record, [record]);
        for (int i = 0; i < 2000; i++)
        {
            byte[] body = (byte[])list.Clone();
            body[rng.Next(body.Length)] = (byte)rng.Next(256);
            try
            {
                PeerList.Parse(body);
            }
            catch (PeerException)
            {
            }
        }
    }
}
