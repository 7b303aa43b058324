namespace CollabAkka.Entities.Routing;

/// <summary>The id of this node, as written in audit records and used to address its connections.</summary>
public sealed record NodeIdentity(string NodeId);
