using Microsoft.Extensions.Options;
using Prova.Core.Crypto;
using Prova.Node.Hosting;

namespace Prova.Node.Network;

/// <summary>One known peer: its latest verified record and how its direct exchanges went.</summary>
public sealed record PeerState(PeerRecord Record, int Failures, DateTimeOffset? LastContact);

/// <summary>
/// The bounded table of known peers (at most <see cref="NodeOptions.MaxPeers"/>), keyed by address.
/// Only verified records enter it. A peer is dropped after <see cref="NodeOptions.PeerMaxFailures"/>
/// failed exchanges in a row or when its newest record grows older than
/// <see cref="NodeOptions.PeerRecordMaxAgeSeconds"/>; a dropped peer comes back only with a newer record
/// than the one it was dropped with (so gossip of its old record cannot revive a dead node).
/// </summary>
public sealed class PeerTable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Address, PeerState> _peers = [];
    private readonly Dictionary<Address, ulong> _dropped = [];
    private readonly NodeOptions _options;

    public PeerTable(IOptions<NodeOptions> options)
    {
        _options = options.Value;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _peers.Count;
            }
        }
    }

    public IReadOnlyList<PeerState> Snapshot()
    {
        lock (_lock)
        {
            return _peers.Values.OrderBy(p => p.Record.Address.ToString(), StringComparer.Ordinal).ToList();
        }
    }

    public IReadOnlyList<PeerRecord> Records() => Snapshot().Select(p => p.Record).ToList();

    public PeerState? Find(Address address)
    {
        lock (_lock)
        {
            return _peers.GetValueOrDefault(address);
        }
    }

    /// <summary>
    /// Offers a verified record. <paramref name="direct"/>: it came from the peer itself (it answered or
    /// announced), which also clears its failure count. Returns false when it was ignored (older than
    /// what is known, dropped with a newer record, or the table is full).
    /// </summary>
    public bool Offer(PeerRecord record, bool direct, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_peers.TryGetValue(record.Address, out var known))
            {
                if (record.Timestamp < known.Record.Timestamp)
                {
                    record = known.Record;
                }
                _peers[record.Address] = direct ? new PeerState(record, 0, now) : known with { Record = record };
                return true;
            }
            if (_dropped.TryGetValue(record.Address, out ulong droppedAt) && record.Timestamp <= droppedAt)
            {
                return false;
            }
            if (_peers.Count >= _options.MaxPeers)
            {
                return false;
            }
            _dropped.Remove(record.Address);
            _peers[record.Address] = new PeerState(record, 0, direct ? now : null);
            return true;
        }
    }

    /// <summary>Counts a failed exchange; returns true when that dropped the peer.</summary>
    public bool Failed(Address address)
    {
        lock (_lock)
        {
            if (!_peers.TryGetValue(address, out var known))
            {
                return false;
            }
            if (known.Failures + 1 >= _options.PeerMaxFailures)
            {
                Drop(known);
                return true;
            }
            _peers[address] = known with { Failures = known.Failures + 1 };
            return false;
        }
    }

    /// <summary>Drops peers whose newest record is older than the maximum age; returns their addresses.</summary>
    public IReadOnlyList<Address> Expire(ulong now)
    {
        lock (_lock)
        {
            var stale = _peers.Values.Where(p => p.Record.Timestamp + (ulong)_options.PeerRecordMaxAgeSeconds < now).ToList();
            foreach (var p in stale)
            {
                Drop(p);
            }
            foreach (var (address, at) in _dropped.ToList())
            {
                if (at + (ulong)_options.PeerRecordMaxAgeSeconds < now)
                {
                    _dropped.Remove(address);
                }
            }
            return stale.Select(p => p.Record.Address).ToList();
        }
    }

    private void Drop(PeerState peer)
    {
        _peers.Remove(peer.Record.Address);
        _dropped[peer.Record.Address] = peer.Record.Timestamp;
        if (_dropped.Count > 4 * _options.MaxPeers)
        {
            _dropped.Remove(_dropped.MinBy(p => p.Value).Key);
        }
    }
}
