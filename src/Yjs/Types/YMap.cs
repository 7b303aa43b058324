using System.Text;

namespace CollabAkka.Yjs;

/// <summary>A shared map from string keys to values (Y.Map); concurrent sets of one key resolve to one winner.</summary>
public class YMap : YType
{
    /// <summary>Creates a map that can be inserted into a document (as a nested type).</summary>
    public YMap() { }

    internal override ulong TypeRef => MapRef;

    /// <summary>Number of keys with a value.</summary>
    public int Count => MapItems.Values.Count(static i => !i.Deleted);

    /// <summary>Keys with a value.</summary>
    public IReadOnlyList<string> Keys => MapItems.Where(static kv => !kv.Value.Deleted).Select(static kv => kv.Key).ToList();

    /// <summary>Whether <paramref name="key"/> has a value.</summary>
    public bool ContainsKey(string key) => MapItems.TryGetValue(key, out var item) && !item.Deleted;

    /// <summary>Value of <paramref name="key"/>, or null.</summary>
    public object? Get(string key) => MapGet(key);

    /// <summary>Sets <paramref name="key"/> (values as for <see cref="YArray.Insert"/>).</summary>
    public void Set(string key, object? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        RequireDoc().TransactLocal(tr => MapSet(tr, key, value));
    }

    /// <summary>Removes <paramref name="key"/>.</summary>
    public void Delete(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        RequireDoc().TransactLocal(tr => MapDelete(tr, key));
    }

    internal override void WriteJson(StringBuilder sb) => WriteMapJson(sb);
}

/// <summary>A Y.XmlHook: a map with a hook name, stored inside XML fragments.</summary>
public sealed class YXmlHook : YMap
{
    internal YXmlHook(string hookName) => HookName = hookName;

    /// <summary>The hook name.</summary>
    public string HookName { get; }

    internal override ulong TypeRef => XmlHookRef;

    internal override void WriteTypeRef(Encoding.ByteWriter w)
    {
        w.WriteVarUint(XmlHookRef);
        w.WriteVarString(HookName);
    }
}
