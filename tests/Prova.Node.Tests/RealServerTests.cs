using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Node.Hosting;
using Prova.Node.Testing;

namespace Prova.Node.Tests;

public sealed class RealServerTests
{
    [Fact]
    public async Task A_node_on_kestrel_creates_its_key_serves_push_pull_infer_and_keeps_state_across_restarts()
    {
        var dir = Directory.CreateTempSubdirectory("prova-kestrel-").FullName;
        try
        {
            var options = new NodeOptions { DataDir = dir, Listen = "127.0.0.1:0", KeyPassword = "test password" };
            byte[] model = TestModels.Mlp();
            Cid cid;
            Prova.Core.Crypto.Address address;
            await using (var node = await NodeHost.StartAsync(options, s => s.AddLightKeystore(), Microsoft.Extensions.Logging.LogLevel.Warning))
            {
                Assert.Equal("127.0.0.1", node.Url.Host);
                Assert.NotEqual(0, node.Url.Port);
                address = node.Address;
                string keyFile = KeyStore.NodeKeyPath(dir);
                Assert.Equal(address, KeyStore.ReadAddress(keyFile));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));

                using var http = new HttpClient { BaseAddress = node.Url };
                var client = new TestClient(http);
                cid = await client.PushAsync(model, "mlp", chunkSize: 1024);
                Assert.Equal(model, await http.GetByteArrayAsync($"/v1/models/{cid}/content"));

                var response = await client.InferAsync(cid, TestModels.Input());
                await TestClient.Expect(response, HttpStatusCode.OK);
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var receipt = Receipt.FromJson(doc.RootElement.GetProperty("receipt"));
                var outputs = TensorJson.ReadNamedTensors(doc.RootElement.GetRawText(), "outputs");
                Assert.True(receipt.Verify(TestModels.Input(), outputs, cid, address).IsValid);
            }

            await using (var node = await NodeHost.StartAsync(options, s => s.AddLightKeystore(), Microsoft.Extensions.Logging.LogLevel.Warning))
            {
                Assert.Equal(address, node.Address);
                using var http = new HttpClient { BaseAddress = node.Url };
                var list = await http.GetFromJsonAsync<JsonElement>("/v1/models");
                Assert.Equal(cid.ToString(), list.GetProperty("data")[0].GetProperty("cid").GetString());
                Assert.Equal(model, await http.GetByteArrayAsync($"/v1/models/{cid}/content"));
            }

            var wrong = new NodeOptions { DataDir = dir, Listen = "127.0.0.1:0", KeyPassword = "other" };
            await Assert.ThrowsAsync<KeystoreException>(() => NodeHost.StartAsync(wrong, s => s.AddLightKeystore(), Microsoft.Extensions.Logging.LogLevel.Warning));
            var bad = new NodeOptions { DataDir = dir, Listen = "nowhere", MaxChunkBytes = 1, KeyPassword = "x" };
            var ex = await Assert.ThrowsAsync<NodeStartException>(() => NodeHost.StartAsync(bad, Microsoft.Extensions.Logging.LogLevel.Warning));
            Assert.Contains("Node:Listen", ex.Message);
            Assert.Contains("Node:MaxChunkBytes", ex.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_node_killed_with_sigkill_mid_upload_restarts_consistent_and_the_upload_resumes()
    {
        var dir = Directory.CreateTempSubdirectory("prova-sigkill-").FullName;
        try
        {
            byte[] model = TestModels.Mlp(256, 256, 16);
            var manifest = ModelManifest.Build(model, 4096);
            Assert.True(manifest.ChunkCount > 40);

            var acknowledged = new System.Collections.Concurrent.ConcurrentBag<int>();
            using (var child = await NodeProcess.StartAsync(dir))
            {
                using var http = new HttpClient { BaseAddress = child.Url };
                var client = new TestClient(http);
                await client.AnnounceAsync(manifest);
                using var killed = new CancellationTokenSource();
                int next = -1;
                async Task Worker()
                {
                    while (true)
                    {
                        int i = Interlocked.Increment(ref next);
                        if (i >= manifest.ChunkCount)
                        {
                            return;
                        }
                        try
                        {
                            var r = await http.PutAsync($"/v1/blobs/{manifest.Cid}/chunks/{i}", TestClient.Octets(TestClient.Chunk(model, manifest, i)), killed.Token);
                            if (r.IsSuccessStatusCode)
                            {
                                acknowledged.Add(i);
                            }
                        }
                        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
                        {
                            return;
                        }
                    }
                }
                var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(Worker)).ToArray();
                while (acknowledged.Count < 15)
                {
                    await Task.Delay(1);
                }
                child.Kill();
                killed.Cancel();
                await Task.WhenAll(workers);
            }
            Assert.InRange(acknowledged.Count, 15, manifest.ChunkCount - 1);

            using (var child = await NodeProcess.StartAsync(dir))
            {
                Assert.Empty(Directory.EnumerateFiles(Path.Combine(dir, "tmp")));
                using var http = new HttpClient { BaseAddress = child.Url };
                var client = new TestClient(http);
                var status = await client.AnnounceAsync(manifest);
                var missing = status.GetProperty("missing").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                Assert.NotEmpty(missing);
                Assert.Empty(missing.Intersect(acknowledged));
                foreach (int i in missing)
                {
                    await TestClient.Expect(await client.PutChunkAsync(manifest, i, TestClient.Chunk(model, manifest, i)), HttpStatusCode.OK);
                }
                await TestClient.Expect(await client.PublishAsync(manifest.Cid, "resumed"), HttpStatusCode.Created);
                Assert.Equal(model, await http.GetByteArrayAsync($"/v1/models/{manifest.Cid}/content"));
                // Every stored chunk file is whole.
                foreach (var file in Directory.EnumerateFiles(Path.Combine(dir, "chunks")))
                {
                    Assert.Equal(Path.GetFileName(file), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))));
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The node as a child process: <c>dotnet Prova.Node.dll --data-dir D --listen 127.0.0.1:0</c>.</summary>
    private sealed class NodeProcess : IDisposable
    {
        private readonly Process _process;

        private NodeProcess(Process process, Uri url)
        {
            _process = process;
            Url = url;
        }

        public Uri Url { get; }

        public static async Task<NodeProcess> StartAsync(string dataDir)
        {
            string dll = typeof(Program).Assembly.Location;
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            string keyFile = KeyStore.NodeKeyPath(dataDir);
            if (!File.Exists(keyFile))
            {
                // A throw-away key at the light scrypt cost (a node's own first start writes the default cost).
                KeyStore.Save(keyFile, PrivateKey.Generate(), "sigkill test", KeystoreOptions.Light);
            }
            foreach (var a in new[] { dll, "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--Logging:LogLevel:Default=Warning" })
            {
                info.ArgumentList.Add(a);
            }
            info.Environment[KeyPassword.EnvironmentVariable] = "sigkill test";
            var process = Process.Start(info)!;
            _ = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    throw new InvalidOperationException($"the node exited with code {(process.HasExited ? process.ExitCode : -1)} before listening");
                }
                if (line.StartsWith("listening on ", StringComparison.Ordinal))
                {
                    _ = process.StandardOutput.ReadToEndAsync();
                    return new NodeProcess(process, new Uri(line["listening on ".Length..]));
                }
            }
        }

        /// <summary>SIGKILL: no shutdown hooks, no flushing.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }
}
