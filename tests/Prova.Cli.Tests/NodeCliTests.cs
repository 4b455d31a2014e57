using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Onnx;

namespace Prova.Cli.Tests;

/// <summary>A real node (in-process, random port) with one model pushed and one result file made through the CLI.</summary>
public sealed class NodeCliFixture : CliNodeFixture
{
    public string ModelPath { get; private set; } = "";

    public string InputsPath { get; private set; } = "";

    public string Cid { get; private set; } = "";

    /// <summary>A verified result file made by 'prova infer -o'.</summary>
    public byte[] Result { get; private set; } = [];

    protected override Task PrepareAsync()
    {
        (ModelPath, InputsPath, _) = TestModels.Write(TestModels.Linear(), Dir, "linear");
        Cid = Push(ModelPath, "cli/linear");
        var infer = CliHarness.Run("infer", Cid, "--input", InputsPath, "--node", Url, "-o", Dir.File("result.json"));
        Assert.True(infer.ExitCode == 0, infer.ToString());
        Result = File.ReadAllBytes(Dir.File("result.json"));
        return Task.CompletedTask;
    }
}

/// <summary>model push/ls/pull, infer and verify through the CLI, and tampering with result files.</summary>
public sealed class NodeCliTests : IClassFixture<NodeCliFixture>, IDisposable
{
    private readonly NodeCliFixture _f;
    private readonly TempDir _dir = new();

    public NodeCliTests(NodeCliFixture fixture) => _f = fixture;

    public void Dispose() => _dir.Dispose();

    private string WriteResult(JsonNode node, string name = "tampered.json")
    {
        string path = _dir.File(name);
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    private JsonNode Fresh() => JsonNode.Parse(_f.Result)!;

    [Fact]
    public void AnUntouchedResultVerifiesAndReExecutes()
    {
        string path = _dir.File("result.json");
        File.WriteAllBytes(path, _f.Result);
        var plain = CliHarness.Run("verify", path);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("verified", plain.Out);
        var full = CliHarness.Run("verify", path, "--model", _f.ModelPath, "--signer", _f.Node.Address.ToString(), "--json");
        Assert.True(full.ExitCode == 0, full.ToString());
        using var doc = JsonDocument.Parse(full.Out);
        Assert.True(doc.RootElement.GetProperty("verified").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("reexecuted").GetBoolean());
        var fromStore = CliHarness.Run("verify", path, "--store", _f.Dir.File("node"));
        Assert.True(fromStore.ExitCode == 0, fromStore.ToString());
        Assert.Contains("re-execution", fromStore.Out);
    }

    public static TheoryData<string, string> Tampers => new()
    {
        { "output", "outputs" },
        { "input", "inputs" },
        { "receipt.timestamp", "signature" },
        { "receipt.requestId", "signature" },
        { "receipt.outputHash", "signature" },
        { "receipt.node", "signature" },
        { "signature", "signature" },
        { "model", "model" },
        { "outputHash", "outputHash" },
    };

    [Theory]
    [MemberData(nameof(Tampers))]
    public void TamperingWithAnyPartFailsVerifyWithExit1NamingTheCheck(string what, string check)
    {
        var result = Fresh();
        var receipt = result["evidence"]!["receipts"]![0]!;
        switch (what)
        {
            case "output":
                var y = result["outputs"]!["y"]!["data"]!.AsArray();
                y[0] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(y[0]!.GetValue<float>()) ^ 1);
                break;
            case "input":
                var x = result["inputs"]!["x"]!["data"]!.AsArray();
                x[3] = x[3]!.GetValue<float>() + 1f;
                break;
            case "receipt.timestamp":
                receipt["timestamp"] = receipt["timestamp"]!.GetValue<ulong>() + 1;
                break;
            case "receipt.requestId":
            case "receipt.outputHash":
            case "signature":
                string field = what.Split('.')[^1];
                receipt[field] = FlipHexDigit(receipt[field]!.GetValue<string>(), 20);
                // Keep the file's request id in step, so it is the signature that catches the change.
                result["requestId"] = receipt["requestId"]!.GetValue<string>();
                break;
            case "receipt.node":
                receipt["node"] = PrivateKey.Generate().Address.ToString();
                break;
            case "model":
                result["model"] = ModelManifest.Build(new byte[10]).Cid.ToString();
                break;
            case "outputHash":
                result["outputHash"] = FlipHexDigit(result["outputHash"]!.GetValue<string>(), 10);
                break;
        }
        var verify = CliHarness.Run("verify", WriteResult(result));
        Assert.True(verify.ExitCode == 1, verify.ToString());
        Assert.Single(verify.Err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"verification failed: {check}:", verify.Err);
    }

    [Fact]
    public void FlippingAnyByteOfTheSignatureFails()
    {
        var original = Fresh()["evidence"]!["receipts"]![0]!["signature"]!.GetValue<string>();
        // Every one of the 65 bytes (r, s, v), one at a time.
        for (int b = 0; b < 65; b += 8)
        {
            var result = Fresh();
            result["evidence"]!["receipts"]![0]!["signature"] = FlipHexDigit(original, 2 + 2 * b + 1);
            var verify = CliHarness.Run("verify", WriteResult(result));
            Assert.True(verify.ExitCode == 1, $"byte {b}: {verify}");
            Assert.Contains("verification failed:", verify.Err);
        }
    }

    [Fact]
    public void WrongOutputsReSignedByAnotherKeyAreCaughtBySignerOrReExecution()
    {
        var file = JsonNode.Parse(_f.Result)!;
        var outputs = TensorJson.ReadNamedTensors(_f.Result, "outputs");
        var inputs = TensorJson.ReadNamedTensors(_f.Result, "inputs");
        var y = (float[])outputs["y"].Data;
        y[0] += 1f;
        var original = Receipt.FromJson(file["evidence"]!["receipts"]![0]!.ToJsonString());
        var cheater = PrivateKey.Generate();
        var forged = (original with { OutputHash = Receipt.HashTensors(outputs) }).SignWith(cheater);
        file["outputs"] = JsonNode.Parse(Encoding.UTF8.GetString(TensorJson.WriteNamedTensors(outputs, "outputs")))!["outputs"]!.DeepClone();
        file["outputHash"] = forged.OutputHash.ToString();
        file["evidence"]!["receipts"]![0] = JsonNode.Parse(forged.ToJson());
        Assert.Equal(Receipt.HashTensors(inputs), forged.InputHash);
        string path = WriteResult(file, "forged.json");

        // Self-consistent: the signature is valid (by the cheater's key).
        Assert.Equal(0, CliHarness.Run("verify", path).ExitCode);
        var signer = CliHarness.Run("verify", path, "--signer", _f.Node.Address.ToString());
        Assert.True(signer.ExitCode == 1, signer.ToString());
        Assert.StartsWith("verification failed: signer:", signer.Err);
        var reexecuted = CliHarness.Run("verify", path, "--model", _f.ModelPath);
        Assert.True(reexecuted.ExitCode == 1, reexecuted.ToString());
        Assert.StartsWith("verification failed: re-execution: output 'y' differs", reexecuted.Err);
    }

    [Fact]
    public void AModelFileThatIsNotTheResultsModelFails()
    {
        string path = _dir.File("result.json");
        File.WriteAllBytes(path, _f.Result);
        var (other, _, _) = TestModels.Write(TestModels.Linear(seed: 99), _dir, "other");
        var verify = CliHarness.Run("verify", path, "--model", other);
        Assert.True(verify.ExitCode == 1, verify.ToString());
        Assert.StartsWith("verification failed: model:", verify.Err);
    }

    [Fact]
    public void UnreadableResultFilesExitWith2()
    {
        File.WriteAllText(_dir.File("broken.json"), "{\"model\": ");
        foreach (var path in new[] { _dir.File("missing.json"), _dir.File("broken.json"), _dir.Path })
        {
            var verify = CliHarness.Run("verify", path);
            Assert.True(verify.ExitCode == 2, verify.ToString());
            Assert.StartsWith("error: ", verify.Err);
        }
    }

    [Fact]
    public void ListPullAndPushJsonShapes()
    {
        var ls = CliHarness.Run("model", "ls", "--node", _f.Url, "--json");
        Assert.True(ls.ExitCode == 0, ls.ToString());
        var model = Assert.Single(JsonDocument.Parse(ls.Out).RootElement.GetProperty("models").EnumerateArray(), m => m.GetProperty("cid").GetString() == _f.Cid);
        Assert.Equal("cli/linear", model.GetProperty("name").GetString());

        string target = _dir.File("pulled.onnx");
        var pull = CliHarness.Run("model", "pull", _f.Cid, "-o", target, "--node", _f.Url);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal(File.ReadAllBytes(_f.ModelPath), File.ReadAllBytes(target));

        var again = CliHarness.Run("model", "push", _f.ModelPath, "--name", "cli/linear", "--node", _f.Url, "--data-dir", _f.Dir.File("user"), "--json");
        Assert.True(again.ExitCode == 0, again.ToString());
        using var doc = JsonDocument.Parse(again.Out);
        Assert.Equal(_f.Cid, doc.RootElement.GetProperty("cid").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("chunksUploaded").GetInt32());
        Assert.Equal(new FileInfo(_f.ModelPath).Length, doc.RootElement.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public void NodeErrorsAreOneLineWithExit2()
    {
        var unknown = ModelManifest.Build(new byte[3]).Cid.ToString();
        var infer = CliHarness.Run("infer", unknown, "--input", _f.InputsPath, "--node", _f.Url);
        Assert.True(infer.ExitCode == 2, infer.ToString());
        // One line that names the model and the stable code.
        Assert.Equal($"error: no node hosts model {unknown} (unknown-model on the 1 node(s) known)", infer.Err.Trim());
        var unreachable = CliHarness.Run("model", "ls", "--node", "http://127.0.0.1:1");
        Assert.True(unreachable.ExitCode == 2, unreachable.ToString());
        Assert.StartsWith("error: cannot reach node at http://127.0.0.1:1/", unreachable.Err);
        var badCid = CliHarness.Run("model", "pull", "not-a-cid", "--node", _f.Url);
        Assert.Equal(2, badCid.ExitCode);
    }

    private static string FlipHexDigit(string hex, int position)
    {
        var chars = hex.ToCharArray();
        chars[position] = chars[position] == '0' ? '1' : '0';
        return new string(chars);
    }
}
