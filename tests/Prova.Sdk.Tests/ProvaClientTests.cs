using System.Net;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Receipts;

namespace Prova.Sdk.Tests;

/// <summary>The SDK against a real node on loopback.</summary>
public sealed class ProvaClientTests : IClassFixture<NodeFixture>, IDisposable
{
    private const int SmallChunks = 4096;
    private readonly NodeFixture _node;
    private readonly TempDir _dir = new();

    public ProvaClientTests(NodeFixture node) => _node = node;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task PushThenPullGivesIdenticalBytesAndTheSameCid()
    {
        string path = TestModels.Write(TestModels.Mlp(inputs: 256, hidden: 64, seed: 11), _dir);
        byte[] original = File.ReadAllBytes(path);
        using var client = _node.Client();
        var reports = new List<TransferProgress>();
        var pushed = await client.PushAsync(path, new PushOptions { Name = "sdk/roundtrip", Version = "1.2.3", ChunkSize = SmallChunks }, _node.Owner,
            new SyncProgress(reports.Add));

        Assert.Equal(ModelManifest.Build(original, SmallChunks).Cid, pushed.Cid);
        Assert.True(pushed.ChunkCount > 10, $"expected many chunks, got {pushed.ChunkCount}");
        Assert.Equal(pushed.ChunkCount, pushed.ChunksUploaded);
        Assert.Equal(original.Length, reports[^1].BytesDone);
        Assert.Equal(pushed.ChunkCount, reports[^1].ChunksDone);
        Assert.Equal(_node.Owner.Address, pushed.Model.Owner);

        string destination = _dir.File("pulled/model.onnx");
        var pulled = await client.PullAsync(pushed.Cid, destination);
        Assert.Equal(original, File.ReadAllBytes(destination));
        Assert.Equal(original.Length, pulled.Bytes);

        var info = await client.GetModelAsync(pushed.Cid);
        Assert.Equal("sdk/roundtrip", info.Name);
        Assert.Equal("1.2.3", info.Version);
        Assert.Equal("x", Assert.Single(info.Inputs).Name);
        Assert.Contains(await client.ListModelsAsync(), m => m.Cid == pushed.Cid);
    }

    [Fact]
    public async Task InterruptedPushResumesWithOnlyTheMissingChunks()
    {
        string path = TestModels.Write(TestModels.Mlp(inputs: 256, hidden: 64, seed: 12), _dir);
        using var client = _node.Client(new ProvaClientOptions { Parallelism = 1 });
        using var cts = new CancellationTokenSource();
        const int k = 5;
        var progress = new SyncProgress(p =>
        {
            if (p.BytesTransferred > 0 && p.ChunksDone >= k)
            {
                cts.Cancel();
            }
        });
        var options = new PushOptions { Name = "sdk/resume", ChunkSize = SmallChunks };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PushAsync(path, options, _node.Owner, progress, cts.Token));

        var manifest = ModelManifest.Build(File.ReadAllBytes(path), SmallChunks);
        var status = await client.GetBlobStatusAsync(manifest.Cid);
        Assert.Equal(manifest.ChunkCount - k, status.Missing.Count);

        var resumed = await client.PushAsync(path, options, _node.Owner);
        Assert.Equal(manifest.ChunkCount - k, resumed.ChunksUploaded);
        Assert.Equal(manifest.Cid, resumed.Cid);
        Assert.True((await client.GetBlobStatusAsync(manifest.Cid)).Complete);
    }

    [Fact]
    public async Task PullFromANodeServingACorruptedChunkFailsNamingItAndLeavesNoFile()
    {
        string path = TestModels.Write(TestModels.Mlp(inputs: 128, hidden: 64, seed: 13), _dir);
        Cid cid;
        using (var honest = _node.Client())
        {
            cid = (await honest.PushAsync(path, new PushOptions { Name = "sdk/corrupt", ChunkSize = SmallChunks }, _node.Owner)).Cid;
        }
        using var lying = new ProvaClient(_node.Node.Url, new FlipByteHandler("/chunks/3"));
        string destination = _dir.File("out/model.onnx");
        var error = await Assert.ThrowsAsync<ContentVerificationException>(() => lying.PullAsync(cid, destination));
        Assert.Equal(3, error.ChunkIndex);
        Assert.Equal("chunk-mismatch", error.Code);
        Assert.Contains("chunk 3", error.Message);
        Assert.False(File.Exists(destination));
        Assert.Empty(Directory.GetFiles(_dir.File("out")));
    }

    [Fact]
    public async Task AManifestThatDoesNotMatchTheCidIsRefused()
    {
        string path = TestModels.Write(TestModels.Mlp(seed: 14), _dir);
        using var honest = _node.Client();
        var cid = (await honest.PushAsync(path, new PushOptions { Name = "sdk/manifest" }, _node.Owner)).Cid;
        using var lying = new ProvaClient(_node.Node.Url, new FlipByteHandler("/manifest"));
        var error = await Assert.ThrowsAsync<ContentVerificationException>(() => lying.PullAsync(cid, _dir.File("m.onnx")));
        Assert.Null(error.ChunkIndex);
        Assert.False(File.Exists(_dir.File("m.onnx")));
    }

    [Fact]
    public async Task InferReturnsOutputsAndAReceiptThatVerifiesAndReExecutes()
    {
        var model = TestModels.Mlp(seed: 15);
        string path = TestModels.Write(model, _dir);
        using var client = _node.Client();
        var cid = (await client.PushAsync(path, new PushOptions { Name = "sdk/infer" }, _node.Owner)).Cid;
        var inputs = TestModels.Input();
        var result = await client.InferAsync(cid, inputs);

        Assert.True(result.Verification.IsValid, result.Verification.ToString());
        Assert.Equal(_node.Node.Address, result.Receipt.Node);
        Assert.Equal(Receipt.HashTensors(result.Outputs), result.OutputHash);
        Assert.Equal([1, 10], result.Outputs["y"].ShapeArray());

        var verification = ResultVerifier.Verify(result.ToResultFile().ToJsonBytes(), new ResultVerifierOptions { ModelBytes = File.ReadAllBytes(path) });
        Assert.True(verification.IsValid, verification.Failure?.ToString());
        Assert.Contains(verification.Checks, c => c.Name == "re-execution" && c.Passed);
    }

    [Fact]
    public async Task NodeProblemsBecomeTypedExceptionsWithStatusAndDetail()
    {
        using var client = _node.Client();
        var unknown = ModelManifest.Build(new byte[100]).Cid;
        var error = await Assert.ThrowsAsync<ProvaClientException>(() => client.GetModelAsync(unknown));
        Assert.Equal(404, error.Status);
        Assert.Equal("unknown-model", error.Code);
        Assert.Contains(unknown.ToString(), error.Detail);

        string path = TestModels.Write(TestModels.Mlp(seed: 16), _dir);
        var cid = (await client.PushAsync(path, new PushOptions { Name = "sdk/problems" }, _node.Owner)).Cid;
        var wrong = new Dictionary<string, Tensor> { ["nope"] = Tensor.Create([1, 64], new float[64]) };
        var bad = await Assert.ThrowsAsync<ProvaClientException>(() => client.InferAsync(cid, wrong));
        Assert.Equal(422, bad.Status);
        Assert.Equal("invalid-input", bad.Code);
    }

    [Fact]
    public async Task AnUnreachableNodeIsOneClearError()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = new ProvaClient(new Uri($"http://127.0.0.1:{port}"));
        var error = await Assert.ThrowsAsync<ProvaClientException>(() => client.ListModelsAsync());
        Assert.Equal("unreachable", error.Code);
        Assert.StartsWith($"cannot reach node at http://127.0.0.1:{port}/", error.Message);
        Assert.Null(error.Status);
    }

    [Fact]
    public async Task AResponseAboveTheLimitIsRefused()
    {
        string path = TestModels.Write(TestModels.Mlp(seed: 17), _dir);
        using var client = _node.Client();
        var cid = (await client.PushAsync(path, new PushOptions { Name = "sdk/limit" }, _node.Owner)).Cid;
        using var small = _node.Client(new ProvaClientOptions { MaxResponseBytes = 64 });
        var error = await Assert.ThrowsAsync<ProvaClientException>(() => small.InferAsync(cid, TestModels.Input()));
        Assert.Equal("too-large", error.Code);
    }

    /// <summary>Fault injection: forwards to the real node and flips one byte of answers whose path ends with <paramref name="pathSuffix"/>.</summary>
    internal sealed class FlipByteHandler(string pathSuffix) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (!request.RequestUri!.AbsolutePath.EndsWith(pathSuffix, StringComparison.Ordinal) || !response.IsSuccessStatusCode)
            {
                return response;
            }
            byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            body[body.Length / 2] ^= 0x01;
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = response.Content.Headers.ContentType;
            response.Content = content;
            return response;
        }
    }
}

internal sealed class SyncProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
{
    private readonly object _gate = new();

    public void Report(TransferProgress value)
    {
        lock (_gate)
        {
            report(value);
        }
    }
}
