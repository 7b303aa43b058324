using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// The host's lifetime, replacing the console lifetime: SIGTERM, SIGINT and SIGQUIT first run the graceful leave
/// (<see cref="GracefulLeave"/>), and only then stop the application. It must come first because stopping the application
/// (ApplicationStopping) makes SignalR close every connection at once, before any hosted service could hand shards off
/// and tell clients <c>connection:closing</c>.
/// </summary>
internal sealed class DrainingLifetime(IHostApplicationLifetime application, GracefulLeave leave) : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _signals = [];

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        foreach (var signal in (PosixSignal[])[PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT])
        {
            _signals.Add(PosixSignalRegistration.Create(signal, OnSignal));
        }
        return Task.CompletedTask;
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // we stop the process ourselves, after the leave
        _ = leave.LeaveAsync().ContinueWith(_ => application.StopApplication(), TaskScheduler.Default);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }
    }
}
