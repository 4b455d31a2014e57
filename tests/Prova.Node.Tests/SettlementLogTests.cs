using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Node.Settlement;

namespace Prova.Node.Tests;

public sealed class SettlementLogTests : IDisposable
{
    private static readonly PrivateKey s_key = PrivateKey.FromHex("0x" + new string('2', 64));
    private static readonly Address s_settlement = Address.Parse("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-settle-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Receipt Served(int i) => new Receipt
    {
        Model = Cid.ForBytes("model"u8),
        InputHash = Keccak256.Hash($"in {i}"),
        OutputHash = Keccak256.Hash($"out {i}"),
        RequestId = Keccak256.Hash($"request {i}"),
        Timestamp = 1_700_000_000 + (ulong)i,
        ChainId = 31337,
        VerifyingContract = s_settlement,
    }.SignWith(s_key);

    [Fact]
    public void Receipts_are_batched_once_in_order_and_each_has_a_valid_proof()
    {
        var log = new ReceiptLog(Path.Combine(_dir, "settlement.db"));
        var receipts = Enumerable.Range(0, 7).Select(Served).ToList();
        foreach (var r in receipts)
        {
            Assert.True(log.Record(r));
        }
        Assert.False(log.Record(receipts[0]));
        Assert.Equal(7, log.PendingCount());

        var first = log.CreateBatch(5, now: 1)!;
        var second = log.CreateBatch(5, now: 2)!;
        Assert.Null(log.CreateBatch(5, now: 3));
        Assert.Equal(0, log.PendingCount());
        Assert.Equal((5, 2), (first.Count, second.Count));
        Assert.Equal(ReceiptBatch.FromReceipts(receipts.Take(5)).Root, first.Root);
        Assert.Equal(ReceiptBatch.FromReceipts(receipts.Skip(5)).Root, second.Root);
        Assert.Equal(receipts.Take(5).Select(r => r.RequestId), log.BatchReceipts(first.Id).Select(r => r.RequestId));

        for (int i = 0; i < receipts.Count; i++)
        {
            var inclusion = log.Inclusion(receipts[i].RequestId)!;
            Assert.Equal(receipts[i], inclusion.Receipt);
            Assert.Equal(i < 5 ? first.Id : second.Id, inclusion.Batch.Id);
            Assert.True(ReceiptBatch.Verify(receipts[i], inclusion.Proof, inclusion.Batch.Root), $"receipt {i}");
        }
        Assert.Null(log.Inclusion(Keccak256.Hash("unknown")));
    }

    [Fact]
    public void Batch_states_survive_a_reopen()
    {
        string path = Path.Combine(_dir, "settlement.db");
        var log = new ReceiptLog(path);
        log.Record(Served(1));
        var batch = log.CreateBatch(100, now: 10)!;
        Assert.Equal(BatchState.Built, Assert.Single(log.Batches(BatchState.Built)).State);
        log.MarkPosted(batch.Id, "0", "0x" + new string('a', 64), 1234);

        var reopened = new ReceiptLog(path);
        var posted = Assert.Single(reopened.Batches(BatchState.Posted));
        Assert.Equal(("0", 1234L, batch.Root), (posted.ChainBatchId, posted.PostedAt!.Value, posted.Root));
        reopened.MarkCollected(batch.Id, "1000");
        Assert.Empty(reopened.Batches(BatchState.Posted));
        Assert.Equal("1000", Assert.Single(reopened.Batches(BatchState.Collected)).Fees);
        // A receipt recorded after the batch goes into the next one.
        reopened.Record(Served(2));
        Assert.Equal(1, reopened.CreateBatch(100, now: 11)!.Count);
    }

    [Fact]
    public void Deployment_round_trips_and_bad_files_name_the_field()
    {
        var deployment = new Deployment
        {
            Rpc = "http://127.0.0.1:8545",
            ChainId = 31337,
            ModelRegistry = Address.Parse("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
            NodeRegistry = Address.Parse("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
            Settlement = Address.Parse("0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"),
            InferenceRequests = Address.Parse("0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"),
            Block = 3,
        };
        string path = Path.Combine(_dir, "deployment.json");
        deployment.Save(path);
        Assert.Equal(deployment, Deployment.Load(path));

        string json = deployment.ToJson();
        Assert.Contains("Settlement", Assert.Throws<DeploymentException>(() => Deployment.Parse(json.Replace("0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0", "0x12", StringComparison.Ordinal))).Message);
        Assert.Contains("chainId", Assert.Throws<DeploymentException>(() => Deployment.Parse(json.Replace("\"31337\"", "\"-1\"", StringComparison.Ordinal))).Message);
        Assert.Contains("kind", Assert.Throws<DeploymentException>(() => Deployment.Parse(json.Replace("/v1", "/v9", StringComparison.Ordinal))).Message);
        Assert.Throws<DeploymentException>(() => Deployment.Parse("[1,2"));
        Assert.Contains("does not exist", Assert.Throws<DeploymentException>(() => Deployment.Load(Path.Combine(_dir, "none.json"))).Message);
        // Every truncation of a valid file is a typed error, never a crash.
        for (int n = 0; n < json.Length; n += 7)
        {
            Assert.Throws<DeploymentException>(() => Deployment.Parse(json[..n]));
        }
    }

    [Fact]
    public void Vouchers_keep_the_highest_cumulative_and_the_next_one_is_the_largest_unposted()
    {
        var log = new ReceiptLog(Path.Combine(_dir, "settlement.db"));
        var node = s_key.Address;
        var alice = PrivateKey.FromHex("0x" + new string('4', 64));
        var bob = PrivateKey.FromHex("0x" + new string('5', 64));
        Voucher V(PrivateKey client, int amount) => new Voucher { Client = client.Address, Node = node, Cumulative = amount }.SignWith(client, 31337, s_settlement);

        Assert.Null(log.NextVoucher(node));
        Assert.True(log.OfferVoucher(V(alice, 100)));
        Assert.False(log.OfferVoucher(V(alice, 100)));
        Assert.False(log.OfferVoucher(V(alice, 50)));
        Assert.True(log.OfferVoucher(V(bob, 70)));
        Assert.Equal((alice.Address, 100), (log.NextVoucher(node)!.Client, (int)log.NextVoucher(node)!.Cumulative));
        log.MarkVoucherPosted(alice.Address, 100);
        Assert.Equal(bob.Address, log.NextVoucher(node)!.Client);
        Assert.True(log.OfferVoucher(V(alice, 250)));
        // Alice adds 150 unposted, Bob 70: Alice's goes first, with its signature intact.
        var next = log.NextVoucher(node)!;
        Assert.Equal((alice.Address, 250), (next.Client, (int)next.Cumulative));
        Assert.True(next.IsSignedByClient(31337, s_settlement));
        log.MarkVoucherPosted(alice.Address, 250);
        log.MarkVoucherPosted(bob.Address, 70);
        Assert.Null(log.NextVoucher(node));
    }

    [Fact]
    public void Voucher_signatures_bind_client_node_amount_chain_and_contract()
    {
        var client = PrivateKey.FromHex("0x" + new string('6', 64));
        var voucher = new Voucher { Client = client.Address, Node = s_key.Address, Cumulative = 1000 }.SignWith(client, 31337, s_settlement);
        Assert.True(voucher.IsSignedByClient(31337, s_settlement));
        Assert.False((voucher with { Cumulative = 1001 }).IsSignedByClient(31337, s_settlement));
        Assert.False((voucher with { Node = client.Address }).IsSignedByClient(31337, s_settlement));
        Assert.False(voucher.IsSignedByClient(1, s_settlement));
        Assert.False(voucher.IsSignedByClient(31337, Address.Zero));
        using var json = System.Text.Json.JsonDocument.Parse(voucher.ToJson());
        Assert.Equal(voucher, Voucher.FromJson(json.RootElement));
        foreach (var (field, value) in new[] { ("cumulative", "-1"), ("cumulative", "1e3"), ("client", "0x12"), ("signature", "0x00") })
        {
            string bad = voucher.ToJson().Replace(System.Text.Json.JsonDocument.Parse(voucher.ToJson()).RootElement.GetProperty(field).GetString()!, value, StringComparison.Ordinal);
            using var doc = System.Text.Json.JsonDocument.Parse(bad);
            Assert.Contains(field, Assert.Throws<FormatException>(() => Voucher.FromJson(doc.RootElement)).Message);
        }
    }

    [Fact]
    public async Task Input_fetcher_reads_data_uris_and_refuses_what_it_cannot_bound()
    {
        byte[] bytes = [1, 2, 3, 250];
        Assert.Equal(bytes, await InputFetcher.FetchAsync(InputFetcher.DataUri(bytes), 1024, TimeSpan.FromSeconds(1), default));
        Assert.Null(await InputFetcher.FetchAsync("data:,plain", 1024, TimeSpan.FromSeconds(1), default));
        Assert.Null(await InputFetcher.FetchAsync("data:application/octet-stream;base64,!!!", 1024, TimeSpan.FromSeconds(1), default));
        Assert.Null(await InputFetcher.FetchAsync(InputFetcher.DataUri(new byte[4096]), 1024, TimeSpan.FromSeconds(1), default));
        Assert.Null(await InputFetcher.FetchAsync("file:///etc/passwd", 1024, TimeSpan.FromSeconds(1), default));
        Assert.Null(await InputFetcher.FetchAsync("not a uri", 1024, TimeSpan.FromSeconds(1), default));
        // Nothing listens on port 1: a typed null, not an exception.
        Assert.Null(await InputFetcher.FetchAsync("http://127.0.0.1:1/x", 1024, TimeSpan.FromSeconds(2), default));
    }
}
