using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Evm.Abi;
using Prova.Evm.Devnet;
using Prova.Evm.Rpc;
using Prova.Evm.Tests.Contracts;
using Prova.Evm.Transactions;

namespace Prova.Evm.Tests;

/// <summary>Against a real anvil (contracts/node_modules/.bin/anvil). Skips only when the binary is missing outside CI.</summary>
public class AnvilTests(AnvilFixture fixture) : IClassFixture<AnvilFixture>
{
    private Anvil Devnet => fixture.Anvil;

    private static readonly BigInteger s_ether = BigInteger.Pow(10, 18);

    [AnvilFact]
    public async Task Devnet_has_chain_id_31337_and_funded_dev_keys()
    {
        var anvil = Devnet;
        Assert.Equal(31337UL, await anvil.Client.ChainIdAsync());
        Assert.Equal(10, anvil.DevKeys.Count);
        Assert.Equal("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", anvil.DevKeys[0].Address.ToString());
        Assert.True(await anvil.Client.GetBalanceAsync(anvil.DevKeys[9].Address) > 1000 * s_ether);
    }

    [AnvilFact]
    public async Task Eip1559_transfer_is_mined_and_sender_recovered_by_the_node()
    {
        var anvil = Devnet;
        var account = anvil.Account(1);
        var to = PrivateKey.Generate().Address;
        var receipt = await account.TransferAsync(to, 12345);
        Assert.True(receipt.Succeeded);
        Assert.Equal(2, receipt.TransactionType);
        Assert.Equal(account.Address, receipt.From);
        Assert.Equal(new BigInteger(12345), await anvil.Client.GetBalanceAsync(to));
    }

    [AnvilFact]
    public async Task Legacy_eip155_transaction_is_accepted()
    {
        var anvil = Devnet;
        var key = anvil.DevKeys[2];
        var to = PrivateKey.Generate().Address;
        ulong nonce = await anvil.Client.GetTransactionCountAsync(key.Address);
        var signed = new Transaction
        {
            Type = TransactionType.Legacy,
            ChainId = anvil.ChainId,
            Nonce = nonce,
            GasPrice = await anvil.Client.GasPriceAsync() * 2,
            GasLimit = 21000,
            To = to,
            Value = 7,
        }.Sign(key);
        var hash = await anvil.Client.SendRawTransactionAsync(signed.RawBytes);
        Assert.Equal(signed.Hash, hash);
        var receipt = await anvil.Client.WaitForReceiptAsync(hash);
        Assert.Equal(key.Address, receipt.From);
        Assert.Equal(new BigInteger(7), await anvil.Client.GetBalanceAsync(to));
    }

    [AnvilFact]
    public async Task Generated_binding_deploys_calls_sends_and_reads_events()
    {
        var anvil = Devnet;
        var account = anvil.Account(3);
        var probe = await EvmProbe.DeployAsync(account, start: 41, ethValue: 5);
        Assert.NotNull(probe.DeploymentReceipt);
        Assert.Equal(new BigInteger(5), await anvil.Client.GetBalanceAsync(probe.Address));
        Assert.Equal(new BigInteger(41), await probe.CounterAsync());
        Assert.Equal(account.Address, await probe.OwnerAsync());

        var receipt = await probe.StoreAsync(key: 7, value: 99, note: "hello");
        Assert.True(receipt.Succeeded);
        Assert.Equal(new BigInteger(99), await probe.ValuesAsync(7));
        Assert.Equal(new BigInteger(42), await probe.CounterAsync());

        var inReceipt = Assert.Single(probe.StoredEventsIn(receipt));
        Assert.Equal(account.Address, inReceipt.By);
        Assert.Equal(new BigInteger(7), inReceipt.Key);
        Assert.Equal("hello", inReceipt.Note);
        var fromLogs = Assert.Single(await probe.GetStoredEventsAsync(receipt.BlockNumber, receipt.BlockNumber));
        Assert.Equal((inReceipt.By, inReceipt.Key, inReceipt.Note, inReceipt.Value, inReceipt.Log.TransactionHash, inReceipt.Log.LogIndex), (fromLogs.By, fromLogs.Key, fromLogs.Note, fromLogs.Value, fromLogs.Log.TransactionHash, fromLogs.Log.LogIndex));
        Assert.True(EvmProbe.StoredEvent.TryDecode(fromLogs.Log, out var again));
        Assert.Equal(new BigInteger(99), again.Value);

        var pair = await probe.PairAsync(7, 9);
        Assert.Equal(new BigInteger(16), pair.Sum);
        Assert.Equal((byte)63, pair.Product);

        var entry = new EvmProbe.Entry(account.Address, 123456789012UL, Keccak256.Hash("tag"));
        await probe.AddEntryAsync(entry);
        Assert.Equal(entry, await probe.EntryAsync(0));

        var batch = new EvmProbe.Batch(Keccak256.Hash("root"), "note ✓", [1u, 2u, 300000u]);
        var echoed = await probe.EchoAsync(batch, -300, [0xde, 0xad], [account.Address, Address.Zero], true);
        Assert.Equal(batch.Root, echoed.Item1.Root);
        Assert.Equal(batch.Sizes, echoed.Item1.Sizes);
        Assert.Equal("note ✓", echoed.Item1.Note);
        Assert.Equal((short)-300, echoed.Item2);
        Assert.Equal(new byte[] { 0xde, 0xad }, echoed.Item3);
        Assert.Equal([account.Address, Address.Zero], echoed.Item4);
        Assert.True(echoed.Item5);

        var posted = await probe.PostBatchAsync(batch);
        var ev = Assert.Single(probe.BatchPostedEventsIn(posted));
        Assert.Equal(batch.Root, ev.Root);
        Assert.Equal(batch.Note, ev.Batch.Note);

        var paid = await probe.PayAsync(ethValue: 1000);
        Assert.Equal(new BigInteger(1000), Assert.Single(probe.PaidEventsIn(paid)).Amount);
    }

    [AnvilFact]
    public async Task Reverts_are_decoded_into_typed_exceptions()
    {
        var anvil = Devnet;
        var owner = anvil.Account(4);
        var probe = await EvmProbe.DeployAsync(owner, 0);

        var custom = await Assert.ThrowsAsync<ContractRevertException>(() => probe.NeedAtLeastAsync(3));
        Assert.Equal("eth_call", custom.Method);
        Assert.Equal(RevertKind.Custom, custom.Reason.Kind);
        Assert.Equal("TooSmall", custom.Reason.ErrorName);
        Assert.Equal([new BigInteger(3), new BigInteger(10)], custom.Reason.Arguments!);

        var message = await Assert.ThrowsAsync<ContractRevertException>(() => probe.RequirePositiveAsync(-1));
        Assert.Equal(RevertKind.Error, message.Reason.Kind);
        Assert.Equal("x must be positive", message.Reason.Message);

        var panic = await Assert.ThrowsAsync<ContractRevertException>(() => probe.DivideAsync(1, 0));
        Assert.Equal(new BigInteger(0x12), panic.Reason.PanicCode);

        var stranger = new EvmProbe(probe.Address, anvil.Account(5));
        var notOwner = await Assert.ThrowsAsync<ContractRevertException>(() => stranger.OnlyOwnerAsync());
        Assert.Equal([anvil.DevKeys[5].Address], notOwner.Reason.Arguments!);
        Assert.True(await probe.OnlyOwnerAsync());

        // A send that would revert fails at gas estimation, before anything is broadcast.
        ulong nonce = await anvil.Client.GetTransactionCountAsync(owner.Address);
        var send = await Assert.ThrowsAsync<ContractRevertException>(() => probe.FailStoreAsync(5));
        Assert.Equal("eth_estimateGas", send.Method);
        Assert.Equal("TooSmall(5, 6)", send.Reason.Message);
        Assert.Equal(nonce, await anvil.Client.GetTransactionCountAsync(owner.Address));

        // With an explicit gas limit it is mined, fails on chain, and the reason is replayed.
        var mined = await Assert.ThrowsAsync<TransactionFailedException>(() => owner.SendAndWaitAsync(new TransactionRequest
        {
            To = probe.Address,
            Data = EvmProbe.ContractAbi.Function("failStore").EncodeCall(5),
            GasLimit = 100_000,
            Errors = EvmProbe.ContractAbi.Errors,
        }));
        Assert.False(mined.Receipt.Succeeded);
        Assert.Equal("TooSmall", mined.Reason?.ErrorName);
        // The next send still works: the nonce manager counted the failed-but-mined transaction.
        Assert.True((await probe.StoreAsync(1, 2, "after")).Succeeded);
    }

    [AnvilFact]
    public async Task Ten_concurrent_sends_from_one_account_all_get_mined_with_distinct_nonces()
    {
        var anvil = Devnet;
        var account = anvil.Account(6);
        var probe = await EvmProbe.DeployAsync(account, 0);
        ulong start = await anvil.Client.GetTransactionCountAsync(account.Address);
        var receipts = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => probe.StoreAsync(i, i * 10, "n" + i)));
        Assert.All(receipts, r => Assert.True(r.Succeeded));
        Assert.Equal(10, receipts.Select(r => r.TransactionHash).Distinct().Count());
        Assert.Equal(start + 10, await anvil.Client.GetTransactionCountAsync(account.Address));
        Assert.Equal(new BigInteger(10), await probe.CounterAsync());
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(new BigInteger(i * 10), await probe.ValuesAsync(i));
        }
    }

    [AnvilFact]
    public async Task Receipt_waits_for_confirmations_and_log_watch_yields_confirmed_events()
    {
        var anvil = Devnet;
        var account = anvil.Account(7);
        var probe = await EvmProbe.DeployAsync(account, 0);
        var receipt = await probe.StoreAsync(1, 1, "first");

        // 3 confirmations need 2 more blocks: mine them while waiting.
        var wait = anvil.Client.WaitForReceiptAsync(receipt.TransactionHash, confirmations: 3, timeout: TimeSpan.FromSeconds(20));
        await Task.Delay(100);
        Assert.False(wait.IsCompleted);
        await anvil.MineAsync(2);
        Assert.Equal(receipt.BlockHash, (await wait).BlockHash);

        await Assert.ThrowsAsync<ReceiptTimeoutException>(() => anvil.Client.WaitForReceiptAsync(Keccak256.Hash("no such tx"), timeout: TimeSpan.FromMilliseconds(200)));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<EvmProbe.StoredEvent>();
        var watcher = Task.Run(async () =>
        {
            await foreach (var e in probe.WatchStoredEventsAsync(receipt.BlockNumber, confirmations: 2, cts.Token))
            {
                seen.Add(e);
                if (seen.Count == 2)
                {
                    break;
                }
            }
        });
        var second = await probe.StoreAsync(2, 2, "second");
        await anvil.MineAsync(1);
        await watcher;
        Assert.Equal(["first", "second"], seen.Select(e => e.Note));
        Assert.Equal(second.TransactionHash, seen[1].Log.TransactionHash);
    }

    [AnvilFact]
    public async Task Anvil_helpers_snapshot_revert_balance_and_time()
    {
        var anvil = Devnet;
        var who = PrivateKey.Generate().Address;
        string snapshot = await anvil.SnapshotAsync();
        await anvil.SetBalanceAsync(who, 77);
        Assert.Equal(new BigInteger(77), await anvil.Client.GetBalanceAsync(who));
        var before = (await anvil.Client.GetBlockAsync())!;
        await anvil.IncreaseTimeAsync(TimeSpan.FromHours(1));
        await anvil.MineAsync();
        var after = (await anvil.Client.GetBlockAsync())!;
        Assert.True(after.Timestamp >= before.Timestamp + 3600);
        Assert.True(await anvil.RevertAsync(snapshot));
        Assert.Equal(BigInteger.Zero, await anvil.Client.GetBalanceAsync(who));
    }

    [AnvilFact]
    public async Task Rpc_errors_name_the_method()
    {
        var anvil = Devnet;
        var e = await Assert.ThrowsAsync<RpcException>(() => anvil.Client.RequestAsync("eth_noSuchMethod", []));
        Assert.Equal("eth_noSuchMethod", e.Method);
        Assert.Contains("eth_noSuchMethod", e.Message);
        var bad = await Assert.ThrowsAsync<RpcException>(() => anvil.Client.SendRawTransactionAsync(new byte[] { 0x02, 0xc0 }));
        Assert.Equal("eth_sendRawTransaction", bad.Method);
    }
}

public class AnvilLifetimeTests
{
    [AnvilFact]
    public async Task Dispose_kills_anvil_and_frees_its_port()
    {
        var anvil = await Anvil.StartAsync(new AnvilOptions { Accounts = 2, ChainId = 1337 });
        int pid = anvil.ProcessId;
        Assert.Equal(1337UL, await anvil.Client.ChainIdAsync());
        Assert.Equal(2, anvil.DevKeys.Count);
        var url = anvil.Url;
        anvil.Dispose();
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid));
        using var client = new EthClient(url, new EthClientOptions { RequestTimeout = TimeSpan.FromSeconds(2) });
        await Assert.ThrowsAsync<RpcTransportException>(() => client.ChainIdAsync());
    }
}
