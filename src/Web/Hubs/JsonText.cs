using System.Text.Json;

namespace CollabAkka.Web.Hubs;

/// <summary>Reading strings from client JSON without throwing on text that is not valid UTF-16.</summary>
internal static class JsonText
{
    /// <summary>The string value, or false when the element is not a string or holds a lone surrogate.</summary>
    public static bool TryGetString(JsonElement element, out string? text)
    {
        text = null;
        if (element.ValueKind != JsonValueKind.String)
        {
            return false;
        }
        try
        {
            text = element.GetString();
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        if (text is null)
        {
            return false;
        }
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                text = null;
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether every string and property name in <paramref name="root"/> is valid UTF-16 (walked without recursion).</summary>
    public static bool IsValidText(JsonElement root)
    {
        var stack = new Stack<JsonElement>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            switch (e.ValueKind)
            {
                case JsonValueKind.String when !TryGetString(e, out _):
                    return false;
                case JsonValueKind.Array:
                    foreach (var x in e.EnumerateArray())
                    {
                        stack.Push(x);
                    }
                    break;
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject())
                    {
                        string name;
                        try
                        {
                            name = p.Name;
                        }
                        catch (InvalidOperationException)
                        {
                            return false;
                        }
                        if (name.Any(char.IsSurrogate) && !IsWellFormed(name))
                        {
                            return false;
                        }
                        stack.Push(p.Value);
                    }
                    break;
            }
        }
        return true;
    }

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }
        return true;
    }
}
