using Prova.Core.Crypto;

namespace Prova.Evm.Rpc;

/// <summary>
/// Hands out nonces for one sender so that concurrent sends never reuse or skip one. The first use
/// reads eth_getTransactionCount(pending); afterwards nonces are counted locally. A send runs under
/// the manager's lock (sign + eth_sendRawTransaction), so transactions reach the node in nonce order.
/// If a send fails, the next one re-reads the count from the node (the failed nonce is reused).
/// Assumes no other process sends from the same address at the same time.
/// </summary>
public sealed class NonceManager
{
    private readonly EthClient _client;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private ulong? _next;

    public NonceManager(EthClient client, Address sender)
    {
        _client = client;
        Sender = sender;
    }

    public Address Sender { get; }

    /// <summary>Runs <paramref name="send"/> with the next nonce; the nonce is consumed only if it completes.</summary>
    public async Task<T> WithNextNonceAsync<T>(Func<ulong, Task<T>> send, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ulong nonce = _next ??= await _client.GetTransactionCountAsync(Sender, BlockTag.Pending, cancellationToken).ConfigureAwait(false);
            T result;
            try
            {
                result = await send(nonce).ConfigureAwait(false);
            }
            catch
            {
                _next = null;
                throw;
            }
            _next = nonce + 1;
            return result;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Forgets the local count; the next send re-reads it from the node.</summary>
    public void Reset()
    {
        _lock.Wait();
        _next = null;
        _lock.Release();
    }
}
