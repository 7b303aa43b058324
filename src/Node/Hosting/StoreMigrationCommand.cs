using CollabAkka.Node.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// <c>CollabAkka.Node migrate [--Collab:Store=postgres --ConnectionStrings:Collab=...]</c>: applies the schema
/// migrations with the node's own configuration sources, then exits. Nodes also migrate at start-up; running
/// this first lets a deployment upgrade the schema once, before rolling the nodes.
/// </summary>
public static class StoreMigrationCommand
{
    public const string Name = "migrate";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var collab = builder.Configuration.GetSection("Collab").Get<CollabOptions>() ?? new CollabOptions();
        var dataDir = Path.GetFullPath(collab.DataDir);
        var database = StoreRegistration.CreateDatabase(builder.Configuration, collab, dataDir);
        try
        {
            var applied = await database.MigrateAsync().ConfigureAwait(false);
            await Console.Out.WriteLineAsync(applied.Count == 0
                ? $"{database.Description}: schema is up to date."
                : $"{database.Description}: applied migrations {string.Join(", ", applied)}.").ConfigureAwait(false);
            return 0;
        }
        finally
        {
            if (database is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
