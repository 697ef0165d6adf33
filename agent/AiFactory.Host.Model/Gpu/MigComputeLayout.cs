using System.Globalization;

namespace AiFactory.Host.Model.Gpu;

/// <summary>
/// The compute instances inside one GPU instance, as NVML reported them: each one's compute instance profile id and
/// placement (compute slices inside the GPU instance). What a rollback must recreate, exactly, for a GPU instance it
/// destroyed; written to the profile journal as <c>PROFILEID@START:SIZE</c> items joined by commas (empty: none).
/// </summary>
public sealed record MigComputeLayout(IReadOnlyList<MigComputeSlot> Slots)
{
    /// <summary>The layout of an instance that exists now.</summary>
    public static MigComputeLayout Of(MigInstance instance) =>
        new([.. instance.ComputeInstances.Select(c => new MigComputeSlot(c.ProfileId, c.Start, c.Size)).Order()]);

    /// <summary>Parses <see cref="ToString"/>'s form; throws <see cref="FormatException"/> naming the text.</summary>
    public static MigComputeLayout Parse(string text)
    {
        var slots = new List<MigComputeSlot>();
        foreach (string item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int at = item.IndexOf('@', StringComparison.Ordinal);
            int colon = item.IndexOf(':', StringComparison.Ordinal);
            if (at < 1 || colon < at
                || !uint.TryParse(item.AsSpan(0, at), NumberStyles.None, CultureInfo.InvariantCulture, out uint profile)
                || !uint.TryParse(item.AsSpan(at + 1, colon - at - 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint start)
                || !uint.TryParse(item.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint size))
            {
                throw new FormatException($"compute instance layout \"{text}\": \"{item}\" is not PROFILEID@START:SIZE");
            }

            slots.Add(new MigComputeSlot(profile, start, size));
        }

        return new MigComputeLayout([.. slots.Order()]);
    }

    /// <summary>True when both hold the same compute instances (profile and placement), in any order.</summary>
    public bool SameAs(MigComputeLayout other) => Slots.Order().SequenceEqual(other.Slots.Order());

    /// <summary><c>0@0:1,0@1:1,1@2:2</c>; empty for a GPU instance without compute instances.</summary>
    public override string ToString() => string.Join(",", Slots);
}

/// <summary>One compute instance's profile id and placement inside its GPU instance.</summary>
public readonly record struct MigComputeSlot(uint ProfileId, uint Start, uint Size) : IComparable<MigComputeSlot>
{
    /// <inheritdoc />
    public int CompareTo(MigComputeSlot other) => (Start, Size, ProfileId).CompareTo((other.Start, other.Size, other.ProfileId));

    /// <summary><c>PROFILEID@START:SIZE</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{ProfileId}@{Start}:{Size}");
}
