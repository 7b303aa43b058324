namespace CollabAkka.Entities.Resources;

//   Activating ──▶ Active ──▶ Passivating ──▶ Stopped
//        │                                     ▲
//        └──────────── (activation failed) ────┘
// Only the entity's own loop moves it; any other move is a bug and throws.
internal enum EntityState
{
    Activating,
    Active,
    Passivating,
    Stopped,
}

internal static class EntityLifecycle
{
    public static EntityState Transition(EntityState from, EntityState to) =>
        (from, to) switch
        {
            (EntityState.Activating, EntityState.Active) => to,
            (EntityState.Activating, EntityState.Stopped) => to,
            (EntityState.Active, EntityState.Passivating) => to,
            (EntityState.Passivating, EntityState.Stopped) => to,
            _ => throw new InvalidOperationException($"Illegal entity transition {from} -> {to}."),
        };
}
