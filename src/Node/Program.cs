using CollabAkka.Entities.Resources;
using CollabAkka.Node.Configuration;
using CollabAkka.Node.Hosting;
using Microsoft.Extensions.Options;

namespace CollabAkka.Node;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            if (args.Length > 0 && args[0] == StoreMigrationCommand.Name)
            {
                return await StoreMigrationCommand.RunAsync(args[1..]).ConfigureAwait(false);
            }
            if (args.Length > 0 && args[0] == WireDocsCommand.Name)
            {
                return WireDocsCommand.Run(args[1..]);
            }
            await using var app = CollabNodeBuilder.Build(args);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (ResourceConfigException ex)
        {
            await Console.Error.WriteLineAsync($"CollabAkka cannot start: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync($"CollabAkka cannot start: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (StoreUnavailableException ex)
        {
            await Console.Error.WriteLineAsync($"CollabAkka cannot reach its store: {ex.Message}").ConfigureAwait(false);
            return 3;
        }
    }
}
