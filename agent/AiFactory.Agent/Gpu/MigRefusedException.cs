namespace AiFactory.Agent.Gpu;

/// <summary>A MIG change the agent will not make, and why (processes by PID, pending reset, no MIG).</summary>
internal sealed class MigRefusedException(string message) : Exception(message);
