using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Grpc.Services;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Profile;

/// <summary><c>aifactory.agent.v1.Profile</c>: PlanProfile, ApplyProfile, GetProfile.</summary>
internal sealed class ProfileApiService(ProfileManager manager, HostCapabilities capabilities)
{
    public const string ServiceName = "aifactory.agent.v1.Profile";

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(ServiceName)
            .AddUnary<PlanProfileRequest, PlanProfileResponse>("PlanProfile", PlanProfileRequest.Parser, (r, call) => Task.Run(() => Plan(r, call.CancellationToken), call.CancellationToken))
            .AddUnary<ApplyProfileRequest, ApplyProfileResponse>("ApplyProfile", ApplyProfileRequest.Parser, (r, _) => Task.Run(() => Apply(r)))
            .AddUnary<GetProfileRequest, GetProfileResponse>("GetProfile", GetProfileRequest.Parser, (_, _) => Task.Run(Get))
            .Build();

    internal PlanProfileResponse Plan(PlanProfileRequest request, CancellationToken cancellationToken = default)
    {
        ProfilePlan plan;
        try
        {
            plan = manager.Plan(request.Yaml, cancellationToken).Plan;
        }
        catch (ProfileFormatException ex)
        {
            throw Invalid(ex.Errors);
        }

        if (!plan.IsValid)
        {
            throw Invalid(plan.Errors);
        }

        var response = new PlanProfileResponse { NoOp = plan.IsNoOp };
        response.Steps.AddRange(ToProto(plan.Steps));
        response.Warnings.AddRange(plan.Warnings);
        return response;
    }

    internal ApplyProfileResponse Apply(ApplyProfileRequest request)
    {
        if (capabilities.ReadOnly)
        {
            string reason = capabilities.All.FirstOrDefault(c => c.Name == "sysfs-write")?.Reason ?? "read-only";
            throw new RpcException(StatusCode.FailedPrecondition, $"the agent is read-only here ({reason}): nothing applied");
        }

        ProfileApplyResult result;
        try
        {
            result = manager.Apply(request.Yaml, "api");
        }
        catch (ProfileFormatException ex)
        {
            throw Invalid(ex.Errors);
        }
        catch (InvalidDataException ex)
        {
            throw new RpcException(StatusCode.FailedPrecondition, ex.Message);
        }
        catch (RollbackPendingException ex)
        {
            throw new RpcException(StatusCode.FailedPrecondition, ex.Message);
        }
        catch (ProfileLockedException ex)
        {
            // A concurrency conflict, nothing done: ABORTED, as gRPC's status guide has it for one.
            throw new RpcException(StatusCode.Aborted, ex.Message);
        }

        ApplyReport report = result.Report;
        var response = new ApplyProfileResponse
        {
            Succeeded = report.Succeeded,
            Writes = report.Writes,
            ApplyId = result.ApplyId,
            Failure = report.Failure?.Message ?? string.Empty,
            FailedFile = report.Failure?.File ?? string.Empty,
            Errno = report.Failure?.Errno ?? 0,
        };
        response.Steps.AddRange(report.Steps.Select(s => new ProfileStepResult
        {
            Index = s.Index,
            Kind = s.Kind,
            Description = s.Description,
            ElapsedMs = s.Elapsed.TotalMilliseconds,
            Ok = s.Ok,
            Detail = s.Detail,
        }));
        response.RolledBack.AddRange(report.RolledBack);
        response.RollbackErrors.AddRange(report.RollbackErrors);
        response.Journal = report.JournalKept ?? string.Empty;
        response.Warnings.AddRange(result.Plan.Warnings);
        return response;
    }

    internal GetProfileResponse Get()
    {
        var response = new GetProfileResponse();
        if (manager.Stored() is not { } stored)
        {
            response.Holds = true;
            return response;
        }

        response.Yaml = stored.Yaml;
        response.Source = stored.Source;
        ProfilePlan? plan = manager.CheckDrift();
        if (plan is not null)
        {
            response.Holds = plan.IsNoOp;
            response.Drift.AddRange(ToProto(plan.Steps));
            response.Errors.AddRange(plan.Errors.Select(e => e.ToString()));
        }

        return response;
    }

    private static IEnumerable<ProfilePlanStep> ToProto(IReadOnlyList<ProfileStep> steps) =>
        steps.Select((s, i) => new ProfilePlanStep { Index = i, Kind = s.Kind, Field = s.Field, Description = s.Describe() });

    /// <summary>
    /// INVALID_ARGUMENT with one <c>field: reason</c> line per error (a reason may hold "; ", so lines, not "; ",
    /// separate them; each error is one line, its control characters escaped).
    /// </summary>
    internal static RpcException Invalid(IReadOnlyList<ProfileValidationError> errors) =>
        new(StatusCode.InvalidArgument, string.Join('\n', errors));
}
