using System.Text;
using CollabAkka.Yjs.Encoding;
using CollabAkka.Yjs.Structs;

namespace CollabAkka.Yjs;

/// <summary>A list of XML nodes (Y.XmlFragment), e.g. a ProseMirror/Tiptap document.</summary>
public class YXmlFragment : YType
{
    /// <summary>Creates a fragment that can be inserted into a document.</summary>
    public YXmlFragment() { }

    internal override ulong TypeRef => XmlFragmentRef;

    /// <summary>Number of child nodes.</summary>
    public int Length => ListLength;

    /// <summary>The child nodes (<see cref="YXmlElement"/>, <see cref="YXmlText"/>, ...).</summary>
    public IReadOnlyList<object?> Children => ListValues();

    /// <summary>The XML string as yjs renders it.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        AppendChildren(sb);
        return sb.ToString();
    }

    private protected void AppendChildren(StringBuilder sb)
    {
        foreach (var child in ListValues())
        {
            sb.Append(child switch
            {
                YType t => t.ToString(),
                _ => JsValues.JsToString(child),
            });
        }
    }

    internal override void WriteJson(StringBuilder sb) => JsValues.WriteJsonString(sb, ToString());
}

/// <summary>An XML element (Y.XmlElement): a node name, attributes (map content) and children.</summary>
public sealed class YXmlElement : YXmlFragment
{
    /// <summary>Creates an element that can be inserted into a document.</summary>
    public YXmlElement(string nodeName) => NodeName = nodeName;

    /// <summary>The element's name.</summary>
    public string NodeName { get; }

    internal override ulong TypeRef => XmlElementRef;

    internal override void WriteTypeRef(ByteWriter w)
    {
        w.WriteVarUint(XmlElementRef);
        w.WriteVarString(NodeName);
    }

    /// <summary>The element's attributes.</summary>
    public IReadOnlyDictionary<string, object?> Attributes => MapEntries().ToDictionary(static kv => kv.Key, static kv => kv.Value, StringComparer.Ordinal);

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder();
        string name = NodeName.ToLowerInvariant();
        sb.Append('<').Append(name);
        foreach (var (key, value) in MapEntries().OrderBy(static kv => kv.Key, StringComparer.Ordinal))
        {
            sb.Append(' ').Append(key).Append("=\"").Append(value is YType t ? t.ToString() : JsValues.JsToString(value)).Append('"');
        }
        sb.Append('>');
        AppendChildren(sb);
        sb.Append("</").Append(name).Append('>');
        return sb.ToString();
    }
}

/// <summary>Formatted text inside an XML fragment (Y.XmlText); renders formatting as tags.</summary>
public sealed class YXmlText : YText
{
    /// <summary>Creates an XML text that can be inserted into a document.</summary>
    public YXmlText() { }

    internal override ulong TypeRef => XmlTextRef;

    /// <summary>The text with each formatting attribute rendered as a tag.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var op in ToDelta())
        {
            var nodes = new List<(string Name, List<(string Key, object? Value)> Attrs)>();
            if (op.Attributes != null)
            {
                foreach (var (name, value) in op.Attributes)
                {
                    var attrs = new List<(string, object?)>();
                    if (value is Dictionary<string, object?> obj)
                    {
                        foreach (var (k, v) in obj)
                        {
                            attrs.Add((k, v));
                        }
                    }
                    else if (value is string s)
                    {
                        for (int i = 0; i < s.Length; i++)
                        {
                            attrs.Add((i.ToString(System.Globalization.CultureInfo.InvariantCulture), s[i].ToString()));
                        }
                    }
                    attrs.Sort(static (a, b) => string.CompareOrdinal(a.Item1, b.Item1));
                    nodes.Add((name, attrs));
                }
            }
            nodes.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            foreach (var (name, attrs) in nodes)
            {
                sb.Append('<').Append(name);
                foreach (var (k, v) in attrs)
                {
                    sb.Append(' ').Append(k).Append("=\"").Append(JsValues.JsToString(v)).Append('"');
                }
                sb.Append('>');
            }
            sb.Append(op.Insert is string str ? str : op.Insert is YType t ? t.ToString() : JsValues.JsToString(op.Insert));
            for (int i = nodes.Count - 1; i >= 0; i--)
            {
                sb.Append("</").Append(nodes[i].Name).Append('>');
            }
        }
        return sb.ToString();
    }

    internal override void WriteJson(StringBuilder sb) => JsValues.WriteJsonString(sb, ToString());
}

/// <summary>
/// A root that only remote updates defined; its kind is not in the updates. Reading infers it from
/// the content: text runs or formats → Text, XML nodes → XmlFragment, other sequence content →
/// Array, keys only → Map.
/// </summary>
internal sealed class YUnknownRoot : YType
{
    internal override ulong TypeRef => MapRef;

    internal string InferKind()
    {
        bool any = false;
        for (var n = Start; n != null; n = n.Right)
        {
            any = true;
            switch (n.Content)
            {
                case ContentString or ContentFormat or ContentEmbed:
                    return "Text";
                case ContentType { Type: YXmlElement or YXmlText or YXmlHook }:
                    return "XmlFragment";
            }
        }
        if (any)
        {
            return "Array";
        }
        return MapItems.Count > 0 ? "Map" : "Empty";
    }

    internal override void WriteJson(StringBuilder sb)
    {
        switch (InferKind())
        {
            case "Text":
                JsValues.WriteJsonString(sb, new YText { Start = Start }.ToString());
                break;
            case "XmlFragment":
                JsValues.WriteJsonString(sb, new YXmlFragment { Start = Start, ListLength = ListLength }.ToString());
                break;
            case "Array":
                WriteListJson(sb);
                break;
            case "Map":
                WriteMapJson(sb);
                break;
            default:
                sb.Append("null");
                break;
        }
    }
}
