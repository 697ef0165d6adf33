using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Profile;

/// <summary>One apply: its id, the plan it ran and the report of what happened.</summary>
internal sealed record ProfileApplyResult(string ApplyId, ProfilePlan Plan, ApplyReport Report);
