using AiFactory.Agent.Profile;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Profile;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The host-reserved CPUs (<c>cpus.reserved</c>) as the node profile last said them. A profile that does not parse
/// does not empty the set: the last one read stays (an operator's typo must not hand their housekeeping CPUs to a
/// tenant), with one error line per change naming the file and the reason. When no good profile was ever read,
/// <see cref="Unknown"/> says why, and the lease service refuses grants until the profile is fixed.
/// </summary>
internal sealed partial class HostReservedCpus(ILogger logger)
{
    private readonly Lock _gate = new();
    private bool _seen;
    private string? _text;
    private bool _everGood;

    /// <summary>The last good reserved set (empty when no profile, or none reserves CPUs).</summary>
    public CpuSet Cpus { get; private set; } = CpuSet.Empty;

    /// <summary>Why the set is unknown (a broken profile and no good one read before); null when known.</summary>
    public string? Unknown { get; private set; }

    /// <summary>
    /// Takes the stored profile (its text and path; null when there is none) into account, and returns the set and
    /// why it is unknown as of this read, together (another thread's update cannot come between them).
    /// </summary>
    public ReservedCpus Update((string Yaml, string Source)? stored)
    {
        lock (_gate)
        {
            UpdateLocked(stored);
            return new ReservedCpus(Cpus, Unknown);
        }
    }

    private void UpdateLocked((string Yaml, string Source)? stored)
    {
        if (_seen && stored?.Yaml == _text)
        {
            return;
        }

        _seen = true;
        _text = stored?.Yaml;
        if (stored is not { } s)
        {
            // No profile at all: nothing is reserved, and that is known.
            Cpus = CpuSet.Empty;
            Unknown = null;
            _everGood = true;
            return;
        }

        try
        {
            NodeProfile profile = ProfileYaml.Parse(s.Yaml);
            Cpus = profile.Cpus?.Reserved ?? CpuSet.Empty;
            Unknown = null;
            _everGood = true;
        }
        catch (ProfileFormatException ex)
        {
            if (_everGood)
            {
                LogKeptLastGood(logger, s.Source, ex.Message, Cpus.ToString());
            }
            else
            {
                Unknown = $"node profile {s.Source} does not parse ({ex.Message}), so the host-reserved CPUs (cpus.reserved) are unknown; fix the profile before leasing";
                LogUnknown(logger, s.Source, ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = EventIds.LeaseReservedCpusKept, Level = LogLevel.Error, Message = "Node profile {Path} does not parse ({Reason}); leases keep the host-reserved CPUs last read from it ({Cpus}) until it is fixed")]
    private static partial void LogKeptLastGood(ILogger logger, string path, string reason, string cpus);

    [LoggerMessage(EventId = EventIds.LeaseReservedCpusUnknown, Level = LogLevel.Error, Message = "Node profile {Path} does not parse ({Reason}) and no earlier version was read: the host-reserved CPUs are unknown, so leases are refused until it is fixed")]
    private static partial void LogUnknown(ILogger logger, string path, string reason);
}

