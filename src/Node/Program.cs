using CollabAkka.Node.Configuration;
using CollabAkka.Node.Hosting;

namespace CollabAkka.Node;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            await using var app = CollabNodeBuilder.Build(args);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (ResourceConfigException ex)
        {
            await Console.Error.WriteLineAsync($"CollabAkka cannot start: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
    }
}
