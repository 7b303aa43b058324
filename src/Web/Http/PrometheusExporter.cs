using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace CollabAkka.Web.Http;

/// <summary>
/// <c>GET /metrics</c> in the Prometheus text format, from the product's <see cref="Meter"/>s (names starting
/// with <c>CollabAkka</c>), kept small: counters are summed per tag set as they are recorded, observable instruments
/// are read at scrape time. Histograms are not exported (none are defined). Only meters made by this node's
/// <see cref="IMeterFactory"/> are read, so several nodes in one process (tests, the TestKit) each report their own,
/// and keeps our instrument names and counter types (ARCHITECTURE §10 says what prometheus-net's MeterAdapter and
/// OpenTelemetry's exporter would change).
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), double> _totals = new();
    private readonly ConcurrentDictionary<Instrument, byte> _instruments = new();
    private readonly object _scrapeGate = new();
    private Dictionary<(Instrument, string), double>? _observed;

    public PrometheusExporter(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith("CollabAkka", StringComparison.Ordinal) && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                _instruments[instrument] = 0;
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = Labels(tags);
        if (_observed is { } observed && instrument.IsObservable)
        {
            observed[(instrument, labels)] = value; // called synchronously inside RecordObservableInstruments
            return;
        }
        _totals.AddOrUpdate((instrument, labels), value, (_, old) => old + value);
    }

    /// <summary>The current values of every instrument, in exposition format.</summary>
    public string Scrape()
    {
        Dictionary<(Instrument, string), double> observed;
        lock (_scrapeGate)
        {
            _observed = observed = [];
            _listener.RecordObservableInstruments();
            _observed = null;
        }
        var sb = new StringBuilder();
        foreach (var instrument in _instruments.Keys.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var type = instrument switch
            {
                ObservableGauge<int> or ObservableGauge<long> or ObservableGauge<double> => "gauge",
                UpDownCounter<long> or UpDownCounter<int> or ObservableUpDownCounter<long> or ObservableUpDownCounter<int> => "gauge",
                _ => "counter",
            };
            var values = instrument.IsObservable
                ? observed.Where(kv => kv.Key.Item1 == instrument).Select(kv => (kv.Key.Item2, kv.Value)).ToList()
                : _totals.Where(kv => kv.Key.Instrument == instrument).Select(kv => (kv.Key.Labels, kv.Value)).ToList();
            if (instrument.Description is { } help)
            {
                sb.Append("# HELP ").Append(instrument.Name).Append(' ').Append(help.Replace("\n", " ", StringComparison.Ordinal)).Append('\n');
            }
            sb.Append("# TYPE ").Append(instrument.Name).Append(' ').Append(type).Append('\n');
            if (values.Count == 0 && !instrument.IsObservable)
            {
                sb.Append(instrument.Name).Append(" 0\n");
            }
            foreach (var (labels, value) in values.OrderBy(v => v.Item1, StringComparer.Ordinal))
            {
                sb.Append(instrument.Name).Append(labels).Append(' ')
                  .Append(value.ToString("G17", CultureInfo.InvariantCulture)).Append('\n');
            }
        }
        return sb.ToString();
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }
        var parts = new List<string>(tags.Length);
        foreach (var (key, value) in tags)
        {
            var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
            parts.Add($"{key}=\"{text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"");
        }
        parts.Sort(StringComparer.Ordinal);
        return "{" + string.Join(',', parts) + "}";
    }

    public void Dispose() => _listener.Dispose();
}
