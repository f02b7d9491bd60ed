namespace Qlaw.Bench.Measure;

/// <summary>A sorted sample of values (milliseconds unless said otherwise) and its nearest-rank percentiles.</summary>
internal sealed class Distribution
{
    private readonly double[] _sorted;

    public Distribution(IEnumerable<double> values)
    {
        _sorted = [.. values];
        Array.Sort(_sorted);
    }

    public int Count => _sorted.Length;

    public double Max => Count == 0 ? double.NaN : _sorted[^1];

    public double Mean => Count == 0 ? double.NaN : _sorted.Average();

    public double P50 => Percentile(50);

    public double P95 => Percentile(95);

    public double P99 => Percentile(99);

    public double Percentile(double p)
    {
        if (Count == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100 * Count);
        return _sorted[Math.Clamp(rank - 1, 0, Count - 1)];
    }
}
