namespace CollabAkka.Entities.Resources;

/// <summary>A store could not be reached or refused a write; callers answer UNAVAILABLE and change nothing.</summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
