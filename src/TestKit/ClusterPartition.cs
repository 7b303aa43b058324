using Akka.Actor;
using CollabAkka.Node.Hosting;

namespace CollabAkka.TestKit;

/// <summary>
/// The links a TestKit cluster has cut, shared by both kinds (<see cref="CollabTestCluster"/>,
/// <see cref="CollabClusterProcesses"/>): each cut link is blackholed at both ends while they run, stays cut for a
/// node restarted meanwhile, and is restored by a heal. How one end's link is set is the cluster's
/// (<paramref name="setLink"/>: node index, peer address, cut).
/// </summary>
internal sealed class ClusterPartition(CollabClusterLayout layout, bool enabled, Func<int, bool> isRunning, Func<int, Address, bool, Task> setLink)
{
    private readonly HashSet<(int A, int B)> _cuts = [];

    public async Task PartitionAsync(int[] sideA, int[] sideB)
    {
        ArgumentNullException.ThrowIfNull(sideA);
        ArgumentNullException.ThrowIfNull(sideB);
        Require();
        if (sideA.Intersect(sideB).Any())
        {
            throw new ArgumentException("A node cannot be on both sides of a partition.", nameof(sideB));
        }
        foreach (var index in sideA.Concat(sideB).Where(i => i < 0 || i >= layout.Slots.Count))
        {
            throw new ArgumentOutOfRangeException(nameof(sideB), index, $"Nodes are numbered 0..{layout.Slots.Count - 1}.");
        }
        foreach (var a in sideA)
        {
            foreach (var b in sideB)
            {
                _cuts.Add((a, b));
                await SetBothEndsAsync(a, b, cut: true).ConfigureAwait(false);
            }
        }
    }

    public async Task HealAsync()
    {
        Require();
        foreach (var (a, b) in _cuts)
        {
            await SetBothEndsAsync(a, b, cut: false).ConfigureAwait(false);
        }
        _cuts.Clear();
    }

    /// <summary>After node <paramref name="index"/> (re)started: its end of every link still cut.</summary>
    public async Task ReapplyAsync(int index)
    {
        foreach (var (a, b) in _cuts.Where(c => c.A == index || c.B == index))
        {
            await setLink(index, AddressOf(a == index ? b : a), true).ConfigureAwait(false);
        }
    }

    private async Task SetBothEndsAsync(int a, int b, bool cut)
    {
        if (isRunning(a))
        {
            await setLink(a, AddressOf(b), cut).ConfigureAwait(false);
        }
        if (isRunning(b))
        {
            await setLink(b, AddressOf(a), cut).ConfigureAwait(false);
        }
    }

    private Address AddressOf(int index) => new(layout.Protocol, AkkaHosting.SystemName, "127.0.0.1", layout.Slots[index].RemotingPort);

    private void Require()
    {
        if (!enabled)
        {
            throw new InvalidOperationException(
                "Partitions need Akka.Remote's throttler under remoting (Collab:Cluster:TestTransportAdapters): start the cluster partitionable.");
        }
    }
}
