using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Node.Hosting;
using Prova.Node.Inference;
using Prova.Proofs.Inference;

namespace Prova.Node.Tests;

/// <summary><c>POST /v1/infer</c> with <c>"mode": "proof"</c> on a real Kestrel node (docs/proofs.md "Product").</summary>
public sealed class ProofModeTests
{
    internal static Dictionary<string, Tensor> Image(int i) =>
        TensorJson.ReadNamedTensors(File.ReadAllText(RepoFiles.Get("models", "examples", $"fashion-test-{i:D5}.json")), "inputs");

    private static async Task<NodeHost> StartAsync(string dir, Action<NodeOptions>? configure = null, string? faults = null)
    {
        var options = new NodeOptions { DataDir = dir, Listen = "127.0.0.1:0", Key = NodeFactory.NodeKey, Peers = [], Replicas = 0 };
        configure?.Invoke(options);
        return await Prova.Node.Testing.FaultyNode.StartAsync(options, faults, Microsoft.Extensions.Logging.LogLevel.Critical);
    }

    private static async Task<JsonElement> ProveOk(TestClient client, Cid cid, Dictionary<string, Tensor> inputs)
    {
        var response = await client.InferAsync(cid, inputs, "\"mode\": \"proof\", ");
        await TestClient.Expect(response, HttpStatusCode.OK);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Theory]
    [InlineData("fashion-cnn.int8.onnx", ModelManifest.DefaultChunkSize)]
    [InlineData("fashion-mlp.int8.onnx", 4096)]
    public async Task Proof_mode_returns_outputs_a_proof_receipt_and_a_proof_that_verifies_offline(string file, int chunkSize)
    {
        var dir = Directory.CreateTempSubdirectory("prova-proof-node-").FullName;
        try
        {
            byte[] model = File.ReadAllBytes(RepoFiles.Get("models", file));
            await using var node = await StartAsync(dir);
            using var http = new HttpClient { BaseAddress = node.Url };
            var client = new TestClient(http);
            var cid = await client.PushAsync(model, "fashion", chunkSize: chunkSize);
            using var circuit = ProofCircuit.FromModelBytes(model, chunkSize: chunkSize);
            Assert.Equal(cid, circuit.ModelCid);

            for (int i = 0; i < 2; i++)
            {
                var inputs = Image(i);
                var answer = await ProveOk(client, cid, inputs);
                Assert.Equal("proof", answer.GetProperty("mode").GetString());
                var receipt = Receipt.FromJson(answer.GetProperty("receipt"));
                var outputs = TensorJson.ReadNamedTensors(answer.GetRawText(), "outputs");
                Assert.True(receipt.Verify(inputs, outputs, cid, node.Address, mode: "proof").IsValid);

                var proof = answer.GetProperty("proof");
                Assert.Equal("PRVP", proof.GetProperty("format").GetString());
                Assert.Equal(ProofFormat.Version, proof.GetProperty("version").GetInt32());
                Assert.Equal("0x" + Convert.ToHexStringLower(circuit.KeyDigest), proof.GetProperty("keyDigest").GetString());
                byte[] bytes = proof.GetProperty("data").GetBytesFromBase64();
                Assert.Equal(bytes.Length, proof.GetProperty("size").GetInt32());
                var binding = new ProofBinding(receipt.RequestId, node.Address);
                InferenceVerifier.Verify(circuit, inputs, outputs, bytes, binding);
                // The proof is bound to this request and this node: replayed for another request,
                // claimed by another node or checked without a binding, it is refused by that check.
                foreach (var wrong in new[] { binding with { RequestId = Hash256.Parse("0x" + new string('7', 64)) }, binding with { Node = Address.Parse("0x" + new string('7', 40)) }, ProofBinding.None })
                {
                    var refused = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(circuit, inputs, outputs, bytes, wrong));
                    Assert.Equal(ProofCheck.Binding, refused.Check);
                    Assert.Contains(receipt.RequestId.ToString(), refused.Message);
                }

                // The same outputs as the attested mode: proving does not change the computation.
                var attested = await client.InferAsync(cid, inputs);
                await TestClient.Expect(attested, HttpStatusCode.OK);
                var plain = TensorJson.ReadNamedTensors(await attested.Content.ReadAsStringAsync(), "outputs");
                Assert.Equal(TensorEncoding.Hash(plain), TensorEncoding.Hash(outputs));

                // The proof binds the outputs: another image's outputs with this proof are rejected.
                var other = TensorJson.ReadNamedTensors((await ProveOk(client, cid, Image(i + 5))).GetRawText(), "outputs");
                if (TensorEncoding.Hash(other) != TensorEncoding.Hash(outputs))
                {
                    var ex = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(circuit, inputs, other, bytes, binding));
                    Assert.Equal("proof-rejected", ex.StableCode);
                }
            }
            Assert.Equal(1, node.Services.GetRequiredService<ProofService>().CachedModels);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_float_model_in_proof_mode_is_a_clear_proof_unsupported_problem_and_bad_inputs_are_invalid_input()
    {
        var dir = Directory.CreateTempSubdirectory("prova-proof-node-").FullName;
        try
        {
            await using var node = await StartAsync(dir);
            using var http = new HttpClient { BaseAddress = node.Url };
            var client = new TestClient(http);
            var floatCid = await client.PushAsync(File.ReadAllBytes(RepoFiles.Get("models", "fashion-cnn.onnx")), "float-cnn");
            var problem = await TestClient.ExpectProblem(await client.InferAsync(floatCid, Image(0), "\"mode\": \"proof\", "), 422, "proof-unsupported");
            string detail = problem.GetProperty("detail").GetString()!;
            Assert.Contains(floatCid.ToString(), detail);
            Assert.Contains("QLinearMatMul", detail);
            Assert.Contains("quantize", detail);
            // The same float model still runs attested.
            await TestClient.Expect(await client.InferAsync(floatCid, Image(0)), HttpStatusCode.OK);

            var intCid = await client.PushAsync(File.ReadAllBytes(RepoFiles.Get("models", "fashion-mlp.int8.onnx")), "int-mlp");
            var wrongShape = new Dictionary<string, Tensor> { ["image"] = Tensor.Create([1, 1, 28, 27], new float[28 * 27]) };
            await TestClient.ExpectProblem(await client.InferAsync(intCid, wrongShape, "\"mode\": \"proof\", "), 422, "invalid-input");
            var wrongName = new Dictionary<string, Tensor> { ["x"] = Image(0)["image"] };
            await TestClient.ExpectProblem(await client.InferAsync(intCid, wrongName, "\"mode\": \"proof\", "), 422, "invalid-input");
            var unknown = Cid.ForBytes([1, 2, 3]);
            await TestClient.ExpectProblem(await client.InferAsync(unknown, Image(0), "\"mode\": \"proof\", "), 404);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Concurrent_proofs_with_one_slot_all_verify_and_a_corrupting_node_signs_a_proof_that_fails()
    {
        var dir = Directory.CreateTempSubdirectory("prova-proof-node-").FullName;
        var liarDir = Directory.CreateTempSubdirectory("prova-proof-node-").FullName;
        try
        {
            byte[] model = File.ReadAllBytes(RepoFiles.Get("models", "fashion-cnn.int8.onnx"));
            using var circuit = ProofCircuit.FromModelBytes(model);
            await using (var node = await StartAsync(dir, o => o.MaxConcurrentInferences = 1))
            {
                using var http = new HttpClient { BaseAddress = node.Url };
                var client = new TestClient(http);
                var cid = await client.PushAsync(model, "cnn", chunkSize: ModelManifest.DefaultChunkSize);
                var answers = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => ProveOk(client, cid, Image(i))));
                for (int i = 0; i < answers.Length; i++)
                {
                    var outputs = TensorJson.ReadNamedTensors(answers[i].GetRawText(), "outputs");
                    var receipt = Receipt.FromJson(answers[i].GetProperty("receipt"));
                    InferenceVerifier.Verify(circuit, Image(i), outputs, answers[i].GetProperty("proof").GetProperty("data").GetBytesFromBase64(), new ProofBinding(receipt.RequestId, node.Address));
                }
            }
            await using (var liar = await StartAsync(liarDir, faults: "corrupt-output"))
            {
                using var http = new HttpClient { BaseAddress = liar.Url };
                var client = new TestClient(http);
                var cid = await client.PushAsync(model, "cnn", chunkSize: ModelManifest.DefaultChunkSize);
                var answer = await ProveOk(client, cid, Image(0));
                var outputs = TensorJson.ReadNamedTensors(answer.GetRawText(), "outputs");
                // The receipt is honest about what it returns, but the proof does not prove those outputs.
                Assert.True(Receipt.FromJson(answer.GetProperty("receipt")).Verify(Image(0), outputs, cid, liar.Address).IsValid);
                var receipt = Receipt.FromJson(answer.GetProperty("receipt"));
                var ex = Assert.Throws<ProofException>(() =>
                    InferenceVerifier.Verify(circuit, Image(0), outputs, answer.GetProperty("proof").GetProperty("data").GetBytesFromBase64(), new ProofBinding(receipt.RequestId, liar.Address)));
                Assert.Equal("proof-rejected", ex.StableCode);
                Assert.Equal(ProofCheck.ModelOutputs, ex.Check);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            Directory.Delete(liarDir, recursive: true);
        }
    }
}
