namespace AiFactory.Grpc.Client;

/// <summary>Per-call options: deadline, cancellation and extra request headers.</summary>
public readonly record struct CallOptions(DateTime? Deadline = null, CancellationToken CancellationToken = default, IReadOnlyDictionary<string, string>? Headers = null);
