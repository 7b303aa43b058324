using CollabAkka.Web.Security;
using Serilog.Core;
using Serilog.Events;

namespace CollabAkka.Node.Hosting;

/// <summary>
/// Last line of defence for issue 12 item 5: any string property of any log event (ours or a library's) that
/// holds an <c>access_token=</c> parameter or a JWT is rewritten with the token replaced by <c>[redacted]</c>.
/// </summary>
internal sealed class TokenRedactingEnricher : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        List<LogEventProperty>? replaced = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            if (value is ScalarValue { Value: string text } && LogRedaction.MayContainSecret(text))
            {
                var redacted = LogRedaction.Redact(text);
                if (!ReferenceEquals(redacted, text) && redacted != text)
                {
                    (replaced ??= []).Add(new LogEventProperty(name, new ScalarValue(redacted)));
                }
            }
        }
        if (replaced is null)
        {
            return;
        }
        foreach (var property in replaced)
        {
            logEvent.AddOrUpdateProperty(property);
        }
    }
}
