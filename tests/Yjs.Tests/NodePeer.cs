using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CollabAkka.Yjs.Tests;

/// <summary>Drives js/peer.mjs (real yjs) over JSON lines.</summary>
internal sealed class NodePeer : IDisposable
{
    private readonly Process _process;

    public NodePeer()
    {
        var psi = new ProcessStartInfo(TestEnvironment.NodePath())
        {
            WorkingDirectory = TestEnvironment.JsDir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(TestEnvironment.JsDir, "peer.mjs"));
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
    }

    public JsonObject Call(JsonObject command)
    {
        _process.StandardInput.WriteLine(command.ToJsonString());
        _process.StandardInput.Flush();
        var line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("node peer exited");
        var reply = JsonNode.Parse(line)!.AsObject();
        if (!reply["ok"]!.GetValue<bool>())
        {
            throw new InvalidOperationException("node peer: " + reply["error"]);
        }
        return reply;
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
            {
                _process.Kill();
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    public static string B64(byte[] bytes) => Convert.ToBase64String(bytes);

    public static JsonNode? ToNode(object? value) => JsonSerializer.SerializeToNode(value);
}
