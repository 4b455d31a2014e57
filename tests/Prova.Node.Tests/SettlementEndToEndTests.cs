using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Evm.Devnet;
using Prova.Evm.Rpc;
using Prova.Node.Hosting;
using Prova.Node.Settlement;
using Prova.Onnx;
using Prova.Runtime;
using Xunit.Abstractions;

namespace Prova.Node.Tests;

/// <summary>
/// Chain mode end to end on a real anvil with four real nodes (Kestrel on 127.0.0.1): a model registered on
/// ModelRegistry, receipts batched and settled with the honest node's fee paid, a node that corrupts an output
/// challenged with a C#-made Merkle proof, the committee re-executing and voting, its stake slashed, and a
/// consumer contract answered through InferenceRequests.
/// </summary>
public sealed class SettlementEndToEndTests(ITestOutputHelper output)
{
    private static readonly BigInteger s_ether = SettlementParameters.Ether;

    internal static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for: {what}");
            }
            await Task.Delay(50);
        }
    }

    private static async Task<Cid> PushAsync(TestClient client, byte[] model, Deployment deployment, string name = "mlp")
    {
        var manifest = await client.UploadAsync(model);
        return await PublishAsync(client, manifest.Cid, deployment, name);
    }

    /// <summary>Publishes uploaded content under the deployment's EIP-712 domain (what chain-mode nodes check).</summary>
    internal static async Task<Cid> PublishAsync(TestClient client, Cid cid, Deployment deployment, string name)
    {
        var owner = TestClient.Owner;
        ulong timestamp = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var publication = new ModelPublication(name, "1.0.0", cid, owner.Address, timestamp);
        var signature = owner.Sign(publication.ToTypedData(deployment.ChainId, deployment.Settlement).SigningHash());
        var response = await client.Http.PostAsJsonAsync("/v1/models", new
        {
            cid = cid.ToString(),
            name,
            version = "1.0.0",
            description = "test model",
            license = "MIT",
            owner = owner.Address.ToString(),
            timestamp,
            signature = signature.ToString(),
        });
        await TestClient.Expect(response, HttpStatusCode.Created, HttpStatusCode.OK);
        return cid;
    }

    private static async Task<Receipt> InferAsync(TestClient client, Cid cid, Dictionary<string, Tensor> inputs)
    {
        var response = await client.InferAsync(cid, inputs);
        await TestClient.Expect(response, HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return Receipt.FromJson(body.RootElement.GetProperty("receipt"));
    }

    internal static async Task<object?[]> Call(EvmAccount from, ContractArtifact contract, Address at, string function, params object?[] args)
    {
        var f = contract.Abi.Function(function);
        var data = await from.Client.CallAsync(new CallRequest { From = from.Address, To = at, Data = f.EncodeCall(args) }, BlockTag.Latest, contract.Errors);
        return f.DecodeOutput(data);
    }

    internal static Task<TransactionReceipt> Send(EvmAccount from, ContractArtifact contract, Address at, string function, BigInteger value, params object?[] args) =>
        from.SendAndWaitAsync(new TransactionRequest { To = at, Data = contract.Abi.Function(function).EncodeCall(args), Value = value, Errors = contract.Errors });

    /// <summary>The verdict of a resolved challenge (1 NodeLied, 2 ChallengeFailed, 3 Inconclusive), or null while open.</summary>
    internal static async Task<int?> ResolvedVerdict(SettlementChain chain, Deployment deployment, BigInteger challengeId)
    {
        var resolved = await chain.EventsAsync(ProvaContracts.Settlement, deployment.Settlement, "ChallengeResolved", deployment.Block, (await chain.HeadAsync()).Number);
        return resolved.Where(e => (BigInteger)e.Values[0]! == challengeId).Select(e => (int?)(int)(BigInteger)e.Values[1]!).FirstOrDefault();
    }

    [Fact]
    public async Task Receipts_settle_and_pay_a_liar_is_slashed_by_the_committee_and_a_contract_gets_an_inference()
    {
        var total = Stopwatch.StartNew();
        // Node 1 corrupts its outputs (flips one bit, signs what it returns); the others are honest.
        const int Liar = 1;
        await using var cluster = await ChainCluster.StartAsync(Liar);
        var (anvil, parameters, deployment, keys, services) = (cluster.Anvil, cluster.Parameters, cluster.Deployment, cluster.Keys, cluster.Services);
        output.WriteLine($"anvil + deploy + 4 nodes registered: {total.Elapsed.TotalSeconds:F1} s");

        var chain = services[0].Chain;
        foreach (var key in keys)
        {
            Assert.True(await chain.IsActiveAsync(key.Address));
            Assert.Equal(parameters.MinStake, await chain.StakeOfAsync(key.Address));
        }

        // The model: on every node (committee members re-execute it) and registered on ModelRegistry.
        byte[] model = TestModels.Mlp();
        var (http, clients) = (cluster.Http, cluster.Clients);
        Cid cid = default;
        foreach (var c in clients)
        {
            cid = await PushAsync(c, model, deployment);
        }
        var modelOwner = anvil.Account(2);
        await Send(modelOwner, ProvaContracts.ModelRegistry, deployment.ModelRegistry, "register", 0, cid.Digest.ToArray(), "mlp");
        Assert.True((bool)(await Call(modelOwner, ProvaContracts.ModelRegistry, deployment.ModelRegistry, "isRegistered", cid.Digest.ToArray()))[0]!);
        await WaitUntil(async () => (bool)(await Call(modelOwner, ProvaContracts.NodeRegistry, deployment.NodeRegistry, "servesModel", keys[0].Address, cid.Digest.ToArray()))[0]!,
            TimeSpan.FromSeconds(10), "node 0 declares the model on NodeRegistry");

        // A client deposits into escrow and gives the honest node a voucher for 0.003 ETH.
        var client = anvil.Account(3);
        await Send(client, ProvaContracts.Settlement, deployment.Settlement, "deposit", s_ether);
        var fee = 3 * s_ether / 1000;
        var voucher = new Voucher { Client = client.Address, Node = keys[0].Address, Cumulative = fee }
            .SignWith(anvil.DevKeys[3], deployment.ChainId, deployment.Settlement);
        var offered = await http[0].PostAsync("/v1/settlement/vouchers", new StringContent(voucher.ToJson(), System.Text.Encoding.UTF8, "application/json"));
        await TestClient.Expect(offered, HttpStatusCode.OK);
        // The node signs vouchers' digests exactly as the contract does.
        var onChainDigest = (byte[])(await Call(client, ProvaContracts.Settlement, deployment.Settlement, "voucherDigest", client.Address, keys[0].Address, fee))[0]!;
        Assert.Equal(voucher.SigningHash(deployment.ChainId, deployment.Settlement), new Hash256(onChainDigest));
        // A forged voucher is refused with a named problem.
        var forged = voucher with { Cumulative = fee * 2 };
        var refused = await http[0].PostAsync("/v1/settlement/vouchers", new StringContent(forged.ToJson(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("invalid-voucher", await refused.Content.ReadAsStringAsync());

        // Inferences: three on the honest node, two on the liar.
        var inputs = Enumerable.Range(0, 3).Select(i => TestModels.Input(seed: 10 + i)).ToArray();
        var honestReceipts = new List<Receipt>();
        foreach (var input in inputs)
        {
            honestReceipts.Add(await InferAsync(clients[0], cid, input));
        }
        // A proof-mode receipt is settled like the others.
        var cnnCid = await PushAsync(clients[0], File.ReadAllBytes(RepoFiles.Get("models", "fashion-cnn.int8.onnx")), deployment, "fashion-cnn");
        var proven = await clients[0].InferAsync(cnnCid, ProofModeTests.Image(0), "\"mode\": \"proof\", ");
        await TestClient.Expect(proven, HttpStatusCode.OK);
        Receipt provenReceipt;
        using (var provenBody = JsonDocument.Parse(await proven.Content.ReadAsStringAsync()))
        {
            provenReceipt = Receipt.FromJson(provenBody.RootElement.GetProperty("receipt"));
        }
        Assert.Equal("proof", provenReceipt.Mode);
        var lie = await InferAsync(clients[Liar], cid, inputs[0]);
        await InferAsync(clients[Liar], cid, inputs[1]);
        Assert.NotEqual(honestReceipts[0].OutputHash, lie.OutputHash);
        Assert.Equal(deployment.Settlement, lie.VerifyingContract);
        Assert.Equal(deployment.ChainId, lie.ChainId);

        var flushed = Stopwatch.StartNew();
        var honestBatch = await services[0].FlushAsync();
        var liarBatch = await services[Liar].FlushAsync();
        output.WriteLine($"two batches posted in {flushed.Elapsed.TotalMilliseconds:F0} ms");
        Assert.NotNull(honestBatch);
        Assert.NotNull(liarBatch);

        var provenInclusion = await http[0].GetFromJsonAsync<JsonElement>($"/v1/settlement/receipts/{provenReceipt.RequestId}");
        Assert.Equal(honestBatch.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), provenInclusion.GetProperty("batchId").GetString());

        // The contract accepts the C#-made Merkle proof of every honest receipt (simulated challenge) and rejects a bent one.
        var bond = parameters.ChallengeBond;
        var challenger = anvil.Account(4);
        foreach (var r in honestReceipts)
        {
            var proofResponse = await http[0].GetAsync($"/v1/settlement/receipts/{r.RequestId}");
            await TestClient.Expect(proofResponse, HttpStatusCode.OK);
            using var proofBody = JsonDocument.Parse(await proofResponse.Content.ReadAsStringAsync());
            var proof = proofBody.RootElement.GetProperty("proof").EnumerateArray().Select(p => Hash256.Parse(p.GetString()!)).ToArray();
            Assert.Equal(honestBatch.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), proofBody.RootElement.GetProperty("batchId").GetString());
            var challenge = ProvaContracts.Settlement.Abi.Function("challenge");
            byte[] Data(IEnumerable<Hash256> siblings) => challenge.EncodeCall(honestBatch.Value, SettlementChain.ReceiptTuple(r), r.Signature.ToArray(),
                siblings.Select(p => (object?)p.ToArray()).ToArray(), "data:,");
            await challenger.Client.CallAsync(new CallRequest { From = challenger.Address, To = deployment.Settlement, Data = Data(proof), Value = bond }, BlockTag.Latest, ProvaContracts.Settlement.Errors);
            var bent = proof.Length > 0 ? proof.Skip(1).Prepend(Keccak256.Hash("bent")) : [Keccak256.Hash("bent")];
            var rejected = await Assert.ThrowsAsync<ContractRevertException>(() => challenger.Client.CallAsync(
                new CallRequest { From = challenger.Address, To = deployment.Settlement, Data = Data(bent), Value = bond }, BlockTag.Latest, ProvaContracts.Settlement.Errors));
            Assert.Equal("NotInBatch", rejected.Reason.ErrorName);
        }

        // Challenge the lie: inclusion proof from the liar's own log, inputs as a data: URI.
        var liarProof = await http[Liar].GetFromJsonAsync<JsonElement>($"/v1/settlement/receipts/{lie.RequestId}");
        var liarSiblings = liarProof.GetProperty("proof").EnumerateArray().Select(p => Hash256.Parse(p.GetString()!)).ToArray();
        Assert.True(ReceiptBatch.Verify(lie, liarSiblings, Hash256.Parse(liarProof.GetProperty("root").GetString()!)));
        var challengerChain = new SettlementChain(anvil.Client, anvil.DevKeys[4], deployment);
        string inputUri = InputFetcher.DataUri(CanonicalTensors.Encode(inputs[0]));
        var stakeBefore = await chain.StakeOfAsync(keys[Liar].Address);
        var challengeClock = Stopwatch.StartNew();
        var (challengeId, _) = await challengerChain.ChallengeAsync(liarBatch.Value, lie, liarSiblings, inputUri);
        var committee = await chain.CommitteeOfAsync(challengeId);
        Assert.Equal(3, committee.Count);
        Assert.DoesNotContain(keys[Liar].Address, committee);

        // The committee (the three honest nodes) re-executes, votes, and the last voter resolves: the liar is slashed.
        await WaitUntil(async () => await chain.StakeOfAsync(keys[Liar].Address) < stakeBefore, TimeSpan.FromSeconds(30), "the liar's stake is slashed");
        output.WriteLine($"challenge → committee votes → slashed: {challengeClock.Elapsed.TotalMilliseconds:F0} ms");
        var stakeAfter = await chain.StakeOfAsync(keys[Liar].Address);
        Assert.Equal(stakeBefore - stakeBefore * parameters.SlashBps / 10_000, stakeAfter);
        foreach (var member in committee)
        {
            var vote = (byte[])(await Call(client, ProvaContracts.Settlement, deployment.Settlement, "voteOf", challengeId, member))[0]!;
            Assert.Equal(honestReceipts[0].OutputHash, new Hash256(vote));
        }
        Assert.False(await chain.IsActiveAsync(keys[Liar].Address)); // below the minimum stake now
        Assert.Equal(1, await ResolvedVerdict(chain, deployment, challengeId)); // NodeLied

        // A challenge of an honest receipt fails: the committee confirms it, the honest node keeps its stake.
        var honestProof = await http[0].GetFromJsonAsync<JsonElement>($"/v1/settlement/receipts/{honestReceipts[1].RequestId}");
        var (failedId, _) = await challengerChain.ChallengeAsync(honestBatch.Value, honestReceipts[1],
            [.. honestProof.GetProperty("proof").EnumerateArray().Select(p => Hash256.Parse(p.GetString()!))], InputFetcher.DataUri(CanonicalTensors.Encode(inputs[1])));
        Assert.DoesNotContain(keys[Liar].Address, await chain.CommitteeOfAsync(failedId)); // no longer active
        await WaitUntil(async () => await ResolvedVerdict(chain, deployment, failedId) is not null, TimeSpan.FromSeconds(30), "the failed challenge is resolved");
        Assert.Equal(2, await ResolvedVerdict(chain, deployment, failedId)); // ChallengeFailed
        Assert.Equal(parameters.MinStake, await chain.StakeOfAsync(keys[0].Address));

        // After the window the honest node collects its fee; the liar's batch was voided (fee back to the client).
        await anvil.IncreaseTimeAsync(TimeSpan.FromSeconds(parameters.ChallengeWindow + 1));
        await anvil.MineAsync();
        await WaitUntil(() => Task.FromResult(services[0].Status().BatchesCollected == 1), TimeSpan.FromSeconds(30), "the honest node collects its batch");
        Assert.Equal(fee, services[0].Status().FeesCollected);
        Assert.Equal(fee, (BigInteger)(await Call(client, ProvaContracts.Settlement, deployment.Settlement, "paid", client.Address, keys[0].Address))[0]!);
        var collected = await chain.EventsAsync(ProvaContracts.Settlement, deployment.Settlement, "FeesCollected", deployment.Block, (await chain.HeadAsync()).Number);
        var (values, collectLog) = Assert.Single(collected);
        var postGas = (await anvil.Client.GetTransactionReceiptAsync(Hash256.Parse(Assert.Single(services[0].Receipts.Batches()).TxHash!)))!.GasUsed;
        var collectGas = (await anvil.Client.GetTransactionReceiptAsync(collectLog.TransactionHash))!.GasUsed;
        output.WriteLine($"gas: postBatch with voucher {postGas}, collectFees one batch {collectGas}");
        Assert.Equal((honestBatch.Value, keys[0].Address, fee), ((BigInteger)values[0]!, (Address)values[1]!, (BigInteger)values[2]!));

        // A contract asks for an inference through InferenceRequests; an honest node fulfils it and the callback lands.
        var consumerOwner = anvil.Account(5);
        var consumer = await ChainDeployer.DeployAsync(consumerOwner, ProvaContracts.ExampleConsumer, [deployment.InferenceRequests]);
        byte[] inputBytes = CanonicalTensors.Encode(inputs[2]);
        var requestClock = Stopwatch.StartNew();
        var asked = await Send(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "ask", s_ether / 100,
            cid.Digest.ToArray(), Receipt.HashTensors(inputs[2]).ToArray(), inputBytes, "", "attested");
        var requestId = new Hash256((byte[])(await Call(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "lastRequestId"))[0]!);
        await WaitUntil(async () => (bool)(await Call(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "answered", requestId))[0]!,
            TimeSpan.FromSeconds(30), "the consumer contract gets its callback");
        output.WriteLine($"InferenceRequests: request mined → callback: {requestClock.Elapsed.TotalMilliseconds:F0} ms");
        var result = new Hash256((byte[])(await Call(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "resultOf", requestId))[0]!);
        // What the engine computes here, independently of the nodes.
        using var session = new InferenceSession(OnnxLoader.Load(model));
        var expected = Receipt.HashTensors(session.Run(inputs[2]));
        Assert.Equal(expected, result);
        Assert.Equal(expected, honestReceipts[2].OutputHash);
        var outputBytes = (byte[])(await Call(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "outputOf", requestId))[0]!;
        Assert.Equal(expected.ToString()[2..], TensorEncoding.Hash(CanonicalTensors.Decode(outputBytes)));
        Assert.True(asked.Succeeded);

        // A quorum:3 request: a node gathers two more active nodes' receipts for the same request id and
        // fulfils it with three signatures (the slashed liar is no longer active; the honest three remain).
        var quorumClock = Stopwatch.StartNew();
        await Send(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "ask", s_ether / 100,
            cid.Digest.ToArray(), Receipt.HashTensors(inputs[1]).ToArray(), CanonicalTensors.Encode(inputs[1]), "", "quorum:3");
        var quorumId = new Hash256((byte[])(await Call(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "lastRequestId"))[0]!);
        await WaitUntil(async () => (bool)(await Call(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "answered", quorumId))[0]!,
            TimeSpan.FromSeconds(30), "the quorum:3 request is fulfilled");
        output.WriteLine($"InferenceRequests quorum:3: request mined → callback: {quorumClock.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(honestReceipts[1].OutputHash, new Hash256((byte[])(await Call(consumerOwner, ProvaContracts.ExampleConsumer, consumer, "resultOf", quorumId))[0]!));
        var accepted = (await chain.EventsAsync(ProvaContracts.InferenceRequests, deployment.InferenceRequests, "ReceiptAccepted", deployment.Block, (await chain.HeadAsync()).Number))
            .Where(e => new Hash256((byte[])e.Values[0]!) == quorumId).Select(e => (Address)e.Values[1]!).ToList();
        Assert.Equal(3, accepted.Distinct().Count());
        Assert.DoesNotContain(keys[Liar].Address, accepted);

        output.WriteLine($"total {total.Elapsed.TotalSeconds:F1} s");
    }
}
