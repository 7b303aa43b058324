namespace CollabAkka.Node.Configuration;

/// <summary>resources.yml is not valid; the message names the file, key and line of every problem found.</summary>
public sealed class ResourceConfigException(string message) : Exception(message);
