using System.Text.Json;
using System.Text.Json.Nodes;

namespace Prova.Cli.Tests;

/// <summary>A real node with the int8 Fashion models and a float model pushed through the CLI, and one proof result made by 'prova infer --mode proof'.</summary>
public sealed class ProofCliFixture : CliNodeFixture
{
    public string CnnCid { get; private set; } = "";

    public string MlpCid { get; private set; } = "";

    public string FloatCid { get; private set; } = "";

    public string ResultPath => Dir.File("proof-result.json");

    public string InferOut { get; private set; } = "";

    public static string Image(int i) => RepoFiles.Get("models", "examples", $"fashion-test-{i:D5}.json");

    protected override Task PrepareAsync()
    {
        CnnCid = Push("fashion-cnn.int8.onnx");
        MlpCid = Push("fashion-mlp.int8.onnx");
        FloatCid = Push("fashion-mlp.onnx");
        var infer = CliHarness.Run("infer", CnnCid, "--input", Image(4), "--mode", "proof", "--node", Url, "-o", ResultPath);
        Assert.True(infer.ExitCode == 0, infer.ToString());
        InferOut = infer.Out;
        return Task.CompletedTask;
    }

    private string Push(string file) => Push(RepoFiles.Get("models", file), "proof/" + file);
}

/// <summary>prova infer --mode proof and prova verify on proof results (docs/cli.md, docs/proofs.md "Product").</summary>
public sealed class ProofCliTests : IClassFixture<ProofCliFixture>, IDisposable
{
    private readonly ProofCliFixture _f;
    private readonly TempDir _dir = new();

    public ProofCliTests(ProofCliFixture fixture) => _f = fixture;

    public void Dispose() => _dir.Dispose();

    private static string Cnn => RepoFiles.Get("models", "fashion-cnn.int8.onnx");

    private string Tampered(Action<JsonNode> edit, string name = "tampered.json")
    {
        var node = JsonNode.Parse(File.ReadAllBytes(_f.ResultPath))!;
        edit(node);
        string path = _dir.File(name);
        File.WriteAllText(path, node.ToJsonString());
        return path;
    }

    [Fact]
    public void Infer_in_proof_mode_writes_the_proof_and_verify_checks_it_offline_in_a_child_process()
    {
        Assert.Contains("proof:", _f.InferOut);
        Assert.Contains("verified", _f.InferOut);
        var result = JsonNode.Parse(File.ReadAllBytes(_f.ResultPath))!;
        Assert.Equal("proof", result["mode"]!.GetValue<string>());
        Assert.Equal("proof", result["evidence"]!["receipts"]![0]!["mode"]!.GetValue<string>());
        var proof = result["evidence"]!["proof"]!;
        Assert.Equal("PRVP", proof["format"]!.GetValue<string>());
        Assert.True(Convert.FromBase64String(proof["data"]!.GetValue<string>()).Length == proof["size"]!.GetValue<int>());

        var verify = CliHarness.RunProcess(["verify", _f.ResultPath, "--model", Cnn]);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("proof", verify.Out);
        Assert.Contains("verified", verify.Out);

        var json = CliHarness.Run("verify", _f.ResultPath, "--model", Cnn, "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var checks = JsonDocument.Parse(json.Out).RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()).ToList();
        Assert.Contains("proof", checks);

        // The key from a model pulled by CID from a node (each chunk checked against the CID).
        var viaNode = CliHarness.Run("verify", _f.ResultPath, "--node", _f.Url);
        Assert.True(viaNode.ExitCode == 0, viaNode.ToString());
        // No key at all: bad usage, naming the options.
        var noKey = CliHarness.Run("verify", _f.ResultPath);
        Assert.Equal(2, noKey.ExitCode);
        Assert.Contains("--model", noKey.Err);
    }

    [Fact]
    public void The_mlp_proves_and_verifies_too()
    {
        string path = _dir.File("mlp.json");
        var infer = CliHarness.Run("infer", _f.MlpCid, "--input", ProofCliFixture.Image(2), "--mode", "proof", "--node", _f.Url, "-o", path);
        Assert.True(infer.ExitCode == 0, infer.ToString());
        var verify = CliHarness.Run("verify", path, "--model", RepoFiles.Get("models", "fashion-mlp.int8.onnx"));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        // The MLP's proof in the CNN's result: made for another model.
        string mlpProof = JsonNode.Parse(File.ReadAllBytes(path))!["evidence"]!["proof"]!.ToJsonString();
        var swapped = Tampered(r => r["evidence"]!["proof"] = JsonNode.Parse(mlpProof));
        var bad = CliHarness.Run("verify", swapped, "--model", Cnn);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("verification failed: proof:", bad.Err);
        Assert.Contains("another model", bad.Err);
    }

    [Fact]
    public void Altering_the_proof_the_outputs_or_the_inputs_exits_1_naming_the_check()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        byte[] proof = Convert.FromBase64String(JsonNode.Parse(File.ReadAllBytes(_f.ResultPath))!["evidence"]!["proof"]!["data"]!.GetValue<string>());
        int at = rng.Next(proof.Length);
        proof[at] ^= 0x10;
        var p = Tampered(r => r["evidence"]!["proof"]!["data"] = Convert.ToBase64String(proof), "proof.json");
        var verify = CliHarness.RunProcess(["verify", p, "--model", Cnn]);
        Assert.True(verify.ExitCode == 1, $"seed {seed}, byte {at}: {verify}");
        Assert.StartsWith("verification failed: proof:", verify.Err.Trim());

        var o = Tampered(r => r["outputs"]!.AsObject().First().Value!["data"]!.AsArray()[0] = 99.5, "outputs.json");
        var vo = CliHarness.Run("verify", o, "--model", Cnn);
        Assert.Equal(1, vo.ExitCode);
        Assert.StartsWith("verification failed: outputs:", vo.Err.Trim());

        var i = Tampered(r => r["inputs"]!["image"]!["data"]!.AsArray()[300] = 0.5, "inputs.json");
        var vi = CliHarness.Run("verify", i, "--model", Cnn);
        Assert.Equal(1, vi.ExitCode);
        Assert.StartsWith("verification failed: inputs:", vi.Err.Trim());

        // Verified against another model: its CID is not the result's.
        var other = CliHarness.Run("verify", _f.ResultPath, "--model", RepoFiles.Get("models", "fashion-mlp.int8.onnx"));
        Assert.Equal(1, other.ExitCode);
        Assert.StartsWith("verification failed: model:", other.Err.Trim());
        Assert.Contains(_f.CnnCid, other.Err);
    }

    [Fact]
    public void A_proof_replayed_in_another_requests_result_exits_1_naming_the_binding()
    {
        // The same image proven again: same outputs, another request id (and the same node). The first
        // proof in the second result is a replay; it was made for the first request, and says so.
        string again = _dir.File("again.json");
        var infer = CliHarness.Run("infer", _f.CnnCid, "--input", ProofCliFixture.Image(4), "--mode", "proof", "--node", _f.Url, "-o", again);
        Assert.True(infer.ExitCode == 0, infer.ToString());
        var first = JsonNode.Parse(File.ReadAllBytes(_f.ResultPath))!;
        var second = JsonNode.Parse(File.ReadAllBytes(again))!;
        Assert.Equal(first["outputs"]!.ToJsonString(), second["outputs"]!.ToJsonString());
        string firstRequest = first["evidence"]!["receipts"]![0]!["requestId"]!.GetValue<string>();
        Assert.NotEqual(firstRequest, second["evidence"]!["receipts"]![0]!["requestId"]!.GetValue<string>());
        var ok = CliHarness.Run("verify", again, "--model", Cnn);
        Assert.True(ok.ExitCode == 0, ok.ToString());

        second["evidence"]!["proof"] = JsonNode.Parse(first["evidence"]!["proof"]!.ToJsonString());
        string replayed = _dir.File("replayed.json");
        File.WriteAllText(replayed, second.ToJsonString());
        var bad = CliHarness.Run("verify", replayed, "--model", Cnn);
        Assert.Equal(1, bad.ExitCode);
        Assert.StartsWith("verification failed: proof:", bad.Err.Trim());
        Assert.Contains($"made for request {firstRequest}", bad.Err);
    }

    [Fact]
    public void A_float_model_in_proof_mode_fails_clearly()
    {
        var infer = CliHarness.Run("infer", _f.FloatCid, "--input", ProofCliFixture.Image(0), "--mode", "proof", "--node", _f.Url);
        Assert.NotEqual(0, infer.ExitCode);
        Assert.Contains("cannot be proven", infer.Err);
        Assert.Contains("quantize", infer.Err);
        Assert.Single(infer.Err.Trim().Split('\n'));
    }
}
