using System.Net;
using System.Net.Sockets;
using System.Text;
using Prova.Evm.Rpc;

namespace Prova.Evm.Tests;

/// <summary>Transport faults from a tiny raw-socket HTTP server on 127.0.0.1 port 0.</summary>
public class RpcTransportTests
{
    private static (TcpListener Listener, Uri Url) Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return (listener, new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/"));
    }

    private static async Task ServeOnceAsync(TcpListener listener, Func<NetworkStream, Task> respond)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var buffer = new byte[65536];
        int read = await stream.ReadAsync(buffer);
        Assert.True(read > 0);
        await respond(stream);
    }

    private static byte[] Http(string body, string status = "200 OK") =>
        Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");

    [Fact]
    public async Task Oversized_response_is_rejected()
    {
        var (listener, url) = Listen();
        using var _ = listener;
        var server = ServeOnceAsync(listener, s => s.WriteAsync(Http("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"" + new string('a', 200_000) + "\"}")).AsTask());
        using var client = new EthClient(url, new EthClientOptions { MaxResponseBytes = 100_000 });
        var e = await Assert.ThrowsAsync<RpcTransportException>(() => client.ChainIdAsync());
        Assert.Equal("eth_chainId", e.Method);
        Assert.Contains("limit", e.Message);
        await server;
    }

    [Fact]
    public async Task Silent_server_times_out()
    {
        var (listener, url) = Listen();
        using var _ = listener;
        var server = ServeOnceAsync(listener, _ => Task.Delay(3000));
        using var client = new EthClient(url, new EthClientOptions { RequestTimeout = TimeSpan.FromMilliseconds(300) });
        var e = await Assert.ThrowsAsync<RpcTransportException>(() => client.BlockNumberAsync());
        Assert.Contains("eth_blockNumber", e.Message);
        Assert.Contains("within", e.Message);
    }

    [Fact]
    public async Task Http_error_bad_json_and_wrong_result_are_typed()
    {
        var (listener, url) = Listen();
        using var _ = listener;
        using var client = new EthClient(url);
        var s1 = ServeOnceAsync(listener, s => s.WriteAsync(Http("nope", "500 Internal Server Error")).AsTask());
        Assert.Contains("HTTP 500", (await Assert.ThrowsAsync<RpcTransportException>(() => client.ChainIdAsync())).Message);
        await s1;
        var s2 = ServeOnceAsync(listener, s => s.WriteAsync(Http("{not json")).AsTask());
        Assert.Contains("not valid JSON", (await Assert.ThrowsAsync<RpcTransportException>(() => client.ChainIdAsync())).Message);
        await s2;
        var s3 = ServeOnceAsync(listener, s => s.WriteAsync(Http("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":\"zz\"}")).AsTask());
        Assert.Contains("unexpected result", (await Assert.ThrowsAsync<RpcTransportException>(() => client.ChainIdAsync())).Message);
        await s3;
        var s4 = ServeOnceAsync(listener, s => s.WriteAsync(Http("{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32000,\"message\":\"nonce too low\"}}")).AsTask());
        var rpc = await Assert.ThrowsAsync<RpcException>(() => client.ChainIdAsync());
        Assert.Equal(-32000, rpc.Code);
        Assert.Equal("eth_chainId failed: nonce too low (JSON-RPC error -32000)", rpc.Message);
        await s4;
    }

    [Fact]
    public async Task Refused_connection_is_a_transport_error()
    {
        var (listener, url) = Listen();
        listener.Stop();
        using var client = new EthClient(url);
        var e = await Assert.ThrowsAsync<RpcTransportException>(() => client.ChainIdAsync());
        Assert.Contains("cannot reach", e.Message);
    }
}
