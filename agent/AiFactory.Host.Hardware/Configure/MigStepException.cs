namespace AiFactory.Host.Hardware.Configure;

/// <summary>A MIG step that failed or was refused: the GPU and what NVML said.</summary>
public sealed class MigStepException(string message, Exception? inner = null) : IOException(message, inner);
