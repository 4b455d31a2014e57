using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Node.Hosting;

namespace Prova.Sdk.Tests;

/// <summary>Mode "proof" through the SDK against real nodes: automatic proof checks, result files, tampering.</summary>
public sealed class ProofResultTests : IClassFixture<NodeFixture>, IDisposable
{
    private readonly NodeFixture _node;
    private readonly TempDir _dir = new();

    public ProofResultTests(NodeFixture node) => _node = node;

    public void Dispose() => _dir.Dispose();

    internal static Dictionary<string, Tensor> Image(int i) =>
        TensorJson.ReadNamedTensors(File.ReadAllText(RepoFiles.Get("models", "examples", $"fashion-test-{i:D5}.json")), "inputs");

    private static byte[] Edit(byte[] json, Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        edit(root);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private async Task<(ResultFile File, Cid Cid, byte[] Model)> ProveAsync(string file, int image)
    {
        using var client = _node.Client();
        string path = RepoFiles.Get("models", file);
        var cid = (await client.PushAsync(path, new PushOptions { Name = "proof/" + file }, _node.Owner)).Cid;
        var result = await client.InferAsync(cid, Image(image), ProofEvidence.Mode);
        Assert.True(result.Verification.IsValid, result.Verification.Message);
        Assert.NotNull(result.Proof);
        Assert.True(result.ProofCheck is { Valid: true }, result.ProofCheck?.Message);
        Assert.Equal(ProofEvidence.Mode, result.Receipt.Mode);
        return (result.ToResultFile(), cid, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData("fashion-cnn.int8.onnx")]
    [InlineData("fashion-mlp.int8.onnx")]
    public async Task The_client_checks_the_proof_and_the_result_file_verifies_offline_with_the_model(string model)
    {
        var (file, cid, bytes) = await ProveAsync(model, 3);
        byte[] json = file.ToJsonBytes();
        var options = new ResultVerifierOptions { ModelBytes = bytes };
        var v = ResultVerifier.Verify(json, options);
        Assert.True(v.IsValid, v.Failure?.Message);
        Assert.Contains(v.Checks, c => c.Name == "proof" && c.Passed && c.Message.Contains(cid.ToString()));
        Assert.DoesNotContain(v.Checks, c => c.Name == "re-execution");

        // Round trip through the file keeps the proof bytes.
        string path = _dir.File("result.json");
        file.Save(path);
        Assert.True(ResultVerifier.Verify(ResultFile.ReadBytes(path), options).IsValid);

        // Without the model there is no verifying key: the proof check fails and says what to give.
        var noKey = ResultVerifier.Verify(json);
        Assert.Equal("proof", noKey.Failure?.Name);
        Assert.Contains("--model", noKey.Failure!.Message);
    }

    [Fact]
    public async Task Any_altered_output_input_or_proof_byte_and_another_model_are_rejected_naming_the_check()
    {
        var (file, cid, bytes) = await ProveAsync("fashion-cnn.int8.onnx", 7);
        var options = new ResultVerifierOptions { ModelBytes = bytes };
        byte[] json = file.ToJsonBytes();
        var seed = Environment.TickCount;
        var rng = new Random(seed);

        // One proof byte changed (anywhere): the proof check fails.
        for (int trial = 0; trial < 6; trial++)
        {
            byte[] proof = (byte[])file.Proof!.Data.Clone();
            int at = rng.Next(proof.Length);
            proof[at] ^= (byte)(1 << rng.Next(8));
            var v = ResultVerifier.Verify(Edit(json, r => r["evidence"]!["proof"]!["data"] = Convert.ToBase64String(proof)), options);
            Assert.True(v.Failure?.Name == "proof", $"seed {seed}: byte {at} of the proof changed, got {v.Failure?.Name}: {v.Failure?.Message}");
        }

        // One output or input element changed: the signed hashes no longer match.
        var outputs = Edit(json, r => r["outputs"]!.AsObject().First().Value!["data"]!.AsArray()[2] = 12.5);
        Assert.Equal("outputs", ResultVerifier.Verify(outputs, options).Failure?.Name);
        var inputs = Edit(json, r => r["inputs"]!["image"]!["data"]!.AsArray()[400] = 0.123);
        Assert.Equal("inputs", ResultVerifier.Verify(inputs, options).Failure?.Name);

        // A forger who also re-signs the receipt with its own key passes the receipt check but not the proof, which
        // names the node and request it was made for (PRVP v4 binding).
        var forger = PrivateKey.Generate();
        var changed = file.Outputs.ToDictionary(kv => kv.Key, kv =>
        {
            float[] data = (float[])kv.Value.Data.Clone();
            data[0] += 1;
            return Tensor.Create(kv.Value.Shape, data);
        });
        var r0 = file.Receipts[0];
        var forged = new Receipt
        {
            Model = r0.Model,
            InputHash = r0.InputHash,
            OutputHash = Receipt.HashTensors(changed),
            Mode = r0.Mode,
            RequestId = r0.RequestId,
            Timestamp = r0.Timestamp,
            ChainId = r0.ChainId,
            VerifyingContract = r0.VerifyingContract,
        }.SignWith(forger);
        var v2 = ResultVerifier.Verify((file with { Outputs = changed, Receipts = [forged] }).ToJsonBytes(), options);
        Assert.Equal("proof", v2.Failure?.Name);
        Assert.Contains("the proof was made for request ", v2.Failure!.Message);
        Assert.Contains($"node {forger.Address}", v2.Failure!.Message, StringComparison.OrdinalIgnoreCase);

        // Another model's file as the key: its CID is not the result's.
        var other = ResultVerifier.Verify(json, new ResultVerifierOptions { ModelBytes = File.ReadAllBytes(RepoFiles.Get("models", "fashion-mlp.int8.onnx")) });
        Assert.Equal("model", other.Failure?.Name);

        // A proof made for another model, carried in this result: the key digest differs.
        var (mlpFile, _, _) = await ProveAsync("fashion-mlp.int8.onnx", 7);
        var swapped = ResultVerifier.Verify((file with { Proof = mlpFile.Proof }).ToJsonBytes(), options);
        Assert.Equal("proof", swapped.Failure?.Name);
        Assert.Contains("another model", swapped.Failure!.Message);

        // A malformed proof object is named as such.
        var malformed = ResultVerifier.Verify(Edit(json, r => r["evidence"]!["proof"]!["data"] = "not base64!"), options);
        Assert.Equal("proof", malformed.Failure?.Name);
        Assert.Contains("base64", malformed.Failure!.Message);
        Assert.Equal(cid, file.Model);
    }

    [Fact]
    public async Task The_network_client_skips_a_node_whose_proof_fails_and_returns_a_verified_proof()
    {
        await using var cluster = await LocalCluster.StartAsync(2, logLevel: LogLevel.None, faults: i => i == 1 ? "corrupt-output" : null);
        string path = RepoFiles.Get("models", "fashion-cnn.int8.onnx");
        Cid cid = default;
        foreach (var n in cluster.Nodes)
        {
            using var client = new ProvaClient(n.Url);
            cid = (await client.PushAsync(path, new PushOptions { Name = "net/cnn" }, _node.Owner)).Cid;
        }
        await cluster.WaitForFullMeshAsync(TimeSpan.FromSeconds(20));
        var liar = cluster[1].Address;
        using var network = new ProvaNetwork([cluster[0].Url]);
        var result = await network.InferAsync(cid, Image(1), ProofEvidence.Mode, new NetworkInferOptions { Include = [liar] });
        var answer = Assert.Single(result.Answers);
        Assert.Equal(cluster[0].Address, answer.Receipt.Node);
        Assert.True(answer.ProofCheck is { Valid: true });
        var failure = Assert.Single(result.Failures);
        Assert.Equal("bad-proof", failure.Code);
        Assert.Contains("not what the proven computation gives", failure.Message);
        var v = ResultVerifier.Verify(result.ToResultFile().ToJsonBytes(), new ResultVerifierOptions { ModelBytes = File.ReadAllBytes(path) });
        Assert.True(v.IsValid, v.Failure?.Message);
    }
}
