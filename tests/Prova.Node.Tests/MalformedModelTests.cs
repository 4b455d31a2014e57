using Prova.Core;
using Prova.Onnx;

namespace Prova.Node.Tests;

/// <summary>Issue #14, defects 5 and 6: malformed models are refused with a 4xx naming the problem, in one bounded line.</summary>
public sealed class MalformedModelTests : IDisposable
{
    private readonly NodeFactory _factory = new();
    private readonly TestClient _client;

    public MalformedModelTests()
    {
        _client = new TestClient(_factory.CreateClient());
    }

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task A_Reshape_missing_its_shape_input_is_refused_at_publish_naming_the_node()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 1, 16);
        b.Output(b.Node("Reshape", [x], name: "flatten_it"), "y");
        var manifest = await _client.UploadAsync(OnnxWriter.Write(b.Build()));

        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(manifest.Cid, "reshape-one-input"), 422, "invalid-onnx");
        Assert.Contains("node 'flatten_it' (Reshape): has 1 input but Reshape (opset 17) requires exactly 2", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_input_of_two_million_dimensions_gives_a_bounded_problem_detail_that_names_the_input()
    {
        var b = new ModelBuilder(opset: 17);
        var dims = new int[2_000_000];
        Array.Fill(dims, 1);
        var x = b.Input("x", DataType.Float32, dims);
        b.Output(b.Node("Relu", [x]), "y");
        var manifest = await _client.UploadAsync(OnnxWriter.Write(b.Build()), chunkSize: 1 << 20);
        await TestClient.Expect(await _client.PublishAsync(manifest.Cid, "two-million-dims"), System.Net.HttpStatusCode.Created);

        var response = await _client.InferAsync(manifest.Cid, new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 16], new float[16]) });
        var problem = await TestClient.ExpectProblem(response, 422, "invalid-input");
        string detail = problem.GetProperty("detail").GetString()!;
        Assert.True(detail.Length <= ErrorText.MaxMessageChars, $"{detail.Length} chars");
        Assert.StartsWith("input 'x' should have shape [1, 1, 1, 1, 1, 1, 1, 1, … (1999988 more) …, 1, 1, 1, 1] but has [1, 16]", detail);
        Assert.True((await response.Content.ReadAsByteArrayAsync()).Length < 4 * ErrorText.MaxMessageChars);
    }

    [Fact]
    public async Task A_model_the_engine_cannot_run_answers_422_at_inference_not_500()
    {
        // Valid ONNX with an op Prova does not implement: it publishes, and creating its session fails.
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 1, 16);
        b.Output(b.Node("Hardmax", [x], name: "argmax_hot"), "y");
        var cid = await _client.PushAsync(OnnxWriter.Write(b.Build()), "hardmax");

        var response = await _client.InferAsync(cid, new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 16], new float[16]) });
        var problem = await TestClient.ExpectProblem(response, 422, "unsupported-model");
        Assert.Contains("node 'argmax_hot' (Hardmax): not supported", problem.GetProperty("detail").GetString());
    }
}
