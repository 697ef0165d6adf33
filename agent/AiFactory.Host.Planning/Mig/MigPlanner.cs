using AiFactory.Host.Model.Gpu;

namespace AiFactory.Host.Planning.Mig;

/// <summary>
/// Pure MIG layout policy for one GPU: (profile table from NVML, instances that exist, wanted multiset of profiles) →
/// explicit placements. Keeps as many existing instances as can stay, places the rest so that the largest run of
/// free memory slices is as long as possible, and refuses with the reason when the wanted set cannot fit.
/// Unlike mig-parted it never clears a GPU to retry profile orders: it searches placements directly.
/// GPU instances a lease holds stay where they are, outside the wanted layout: never destroyed, never counted as
/// one of the wanted profiles, and a layout that cannot be placed around them is refused naming the lease and GPU.
/// </summary>
public static class MigPlanner
{
    public const string Name = "largest-free-run";

    /// <param name="table">The GPU's profiles and possible placements, as NVML reports them.</param>
    /// <param name="current">GPU instances that exist now.</param>
    /// <param name="wanted">Profile names wanted (repeats allowed), e.g. <c>3g.40gb, 2g.20gb, 1g.10gb, 1g.10gb</c>.</param>
    /// <param name="keepAll">For a lease: the existing instances must all stay; only additions are allowed.</param>
    /// <param name="held">GPU instances leases hold on this GPU (from the ledger): kept whatever is wanted; their
    /// placements stay occupied even when NVML no longer lists the instance (that is drift, reported elsewhere).</param>
    public static MigPlan Plan(MigProfileTable table, IReadOnlyList<MigInstance> current, IReadOnlyList<string> wanted, bool keepAll = false, IReadOnlyList<MigHold>? held = null)
    {
        held ??= [];
        var heldProfiles = new List<MigProfile>(held.Count);
        foreach (MigHold hold in held)
        {
            MigProfile? profile = table.Find(hold.Profile);
            if (profile is null)
            {
                return MigPlan.Refuse($"{hold}, but this GPU offers no profile {hold.Profile}: nothing is changed while the lease holds it");
            }

            heldProfiles.Add(profile);
        }

        List<MigInstance> heldInstances = [.. current.Where(c => held.Any(h => h.Is(c)))];
        current = [.. current.Where(c => !heldInstances.Contains(c))];

        // Resolve names against the GPU's own table.
        var profiles = new List<MigProfile>(wanted.Count);
        foreach (string name in wanted)
        {
            MigProfile? profile = table.Find(name);
            if (profile is null)
            {
                return MigPlan.Refuse($"profile {name} is not offered by this GPU (it offers {string.Join(", ", table.Profiles.Select(p => p.Name))})");
            }

            profiles.Add(profile);
        }

        if (keepAll)
        {
            profiles.AddRange(current.Select(c => table.Find(c.ProfileId) ?? table.Find(c.Profile)!).Where(p => p is not null));
        }

        string? budget = CheckBudgets(table, [.. profiles, .. heldProfiles]);
        if (budget is not null)
        {
            return MigPlan.Refuse(held.Count == 0 ? budget : $"{budget} ({HeldList(held)} must stay)");
        }

        List<(MigPlacement Placement, string Name)> reserved = [.. held.Select(h => (h.Placement, h.ToString()))];
        int reservedCompute = heldProfiles.Sum(p => (int)p.SliceCount);

        // Existing instances that match a wanted profile may stay. Try keeping the most first; fall back to fewer.
        List<MigInstance> candidates = [.. current.Where(c => !c.IsOrphaned && profiles.Any(p => p.Id == c.ProfileId))];
        Failure? firstFailure = null;
        for (int keepCount = candidates.Count; keepCount >= (keepAll ? candidates.Count : 0); keepCount--)
        {
            MigPlan? best = null;
            foreach (List<MigInstance> kept in Subsets(candidates, keepCount))
            {
                if (!TryMatch(kept, profiles, out List<MigProfile>? remaining))
                {
                    continue;
                }

                var search = new Search(
                    table,
                    [.. reserved, .. kept.Select(k => (k.Placement, "an instance that stays"))],
                    reservedCompute + kept.Sum(k => (int)(table.Find(k.ProfileId)?.SliceCount ?? 0)),
                    remaining);
                if (!search.Run())
                {
                    firstFailure ??= search.Failure;
                    continue;
                }

                var plan = new MigPlan
                {
                    Keep = [.. kept, .. heldInstances],
                    Destroy = [.. current.Where(c => !kept.Contains(c)).OrderByDescending(c => c.Placement.Start)],
                    Create = search.Best!,
                    LargestFreeRun = search.BestRun,
                };
                if (best is null || plan.LargestFreeRun > best.LargestFreeRun)
                {
                    best = plan;
                }
            }

            if (best is not null)
            {
                return best;
            }
        }

        return MigPlan.Refuse(firstFailure?.Describe() ?? "no placement fits");
    }

    private static string HeldList(IReadOnlyList<MigHold> held) => string.Join("; ", held);

    private static string? CheckBudgets(MigProfileTable table, List<MigProfile> profiles)
    {
        foreach (IGrouping<uint, MigProfile> group in profiles.GroupBy(p => p.Id))
        {
            MigProfile p = group.First();
            if (group.Count() > p.InstanceCount)
            {
                return $"{group.Count()} x {p.Name} wanted, but this GPU allows at most {p.InstanceCount} (placements {string.Join(", ", p.Placements)})";
            }
        }

        long compute = profiles.Sum(p => (long)p.SliceCount);
        if (compute > table.ComputeSlices)
        {
            return $"{string.Join(" + ", profiles.Select(p => p.Name))} needs {compute} compute slices; this GPU has {table.ComputeSlices}";
        }

        long memory = profiles.Sum(p => (long)p.MemorySlices);
        if (memory > table.MemorySlices)
        {
            return $"{string.Join(" + ", profiles.Select(p => p.Name))} needs {memory} memory slices; this GPU has {table.MemorySlices}";
        }

        return null;
    }

    private static bool TryMatch(List<MigInstance> kept, List<MigProfile> wanted, out List<MigProfile> remaining)
    {
        remaining = [.. wanted];
        foreach (MigInstance k in kept)
        {
            int i = remaining.FindIndex(p => p.Id == k.ProfileId);
            if (i < 0)
            {
                return false;
            }

            remaining.RemoveAt(i);
        }

        return true;
    }

    private static IEnumerable<List<MigInstance>> Subsets(List<MigInstance> items, int size)
    {
        if (size == 0)
        {
            yield return [];
            yield break;
        }

        for (int i = 0; i <= items.Count - size; i++)
        {
            foreach (List<MigInstance> rest in Subsets(items.GetRange(i + 1, items.Count - i - 1), size - 1))
            {
                rest.Insert(0, items[i]);
                yield return rest;
            }
        }
    }

    /// <summary>Why the deepest branch of the search stopped: the profile and what occupies each of its slots.</summary>
    private sealed record Failure(MigProfile Profile, IReadOnlyList<(MigPlacement Slot, string BlockedBy)> Slots)
    {
        public string Describe() =>
            $"cannot place {Profile.Name}: " + string.Join("; ", Slots.Select(s => $"slot {s.Slot} is blocked by {s.BlockedBy}"));
    }

    /// <summary>Exhaustive placement search (a GPU has at most 8 memory slices and 7 instances).</summary>
    private sealed class Search(MigProfileTable table, List<(MigPlacement Placement, string Name)> fixedPlacements, int fixedCompute, List<MigProfile> toPlace)
    {
        private readonly List<MigProfile> _order = [.. toPlace.OrderByDescending(p => p.MemorySlices).ThenByDescending(p => p.SliceCount).ThenBy(p => p.Id)];
        private readonly MigCreate[] _current = new MigCreate[toPlace.Count];
        private readonly List<(MigPlacement Placement, string Name)> _occupied = [.. fixedPlacements];
        private int _deepest = -1;
        private long _bestKey = -1;

        public List<MigCreate>? Best { get; private set; }

        public uint BestRun { get; private set; }

        public Failure? Failure { get; private set; }

        public bool Run()
        {
            Place(0, fixedCompute);
            return Best is not null;
        }

        private void Place(int depth, int compute)
        {
            if (depth == _order.Count)
            {
                Score();
                return;
            }

            MigProfile profile = _order[depth];
            // Identical profiles are placed in increasing start order so each layout is visited once.
            uint minStart = depth > 0 && _order[depth - 1].Id == profile.Id ? _current[depth - 1].Placement.Start + 1 : 0;
            bool placed = false;
            foreach (MigPlacement slot in profile.Placements)
            {
                if (slot.Start < minStart || compute + profile.SliceCount > table.ComputeSlices || _occupied.Any(o => o.Placement.Overlaps(slot)))
                {
                    continue;
                }

                placed = true;
                _current[depth] = new MigCreate(profile, slot);
                _occupied.Add((slot, $"{profile.Name}@{slot}"));
                Place(depth + 1, compute + (int)profile.SliceCount);
                _occupied.RemoveAt(_occupied.Count - 1);
            }

            if (!placed && depth > _deepest)
            {
                _deepest = depth;
                Failure = new Failure(profile, [.. profile.Placements.Select(s => (s, BlockedBy(s, compute, profile)))]);
            }
        }

        private string BlockedBy(MigPlacement slot, int compute, MigProfile profile)
        {
            var overlapping = _occupied.Where(o => o.Placement.Overlaps(slot)).Select(o => o.Name).ToList();
            return overlapping.Count > 0
                ? string.Join(" and ", overlapping)
                : compute + profile.SliceCount > table.ComputeSlices ? $"the compute-slice budget ({compute} of {table.ComputeSlices} used)" : "an identical instance placed before it";
        }

        private void Score()
        {
            // Longest run of free memory slices first, then the layout packed lowest (deterministic).
            uint run = 0, longest = 0;
            for (uint slice = 0; slice < table.MemorySlices; slice++)
            {
                bool used = _occupied.Any(o => slice >= o.Placement.Start && slice < o.Placement.End);
                run = used ? 0 : run + 1;
                longest = Math.Max(longest, run);
            }

            long packed = _current.Sum(c => (long)c.Placement.Start);
            long key = ((long)longest << 32) | (0xFFFFFFFFL - packed);
            if (key > _bestKey)
            {
                _bestKey = key;
                BestRun = longest;
                Best = [.. _current.OrderBy(c => c.Placement.Start)];
            }
        }
    }
}
