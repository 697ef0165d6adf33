namespace AiFactory.Agent.Configuration;

/// <summary>An invalid setting: the key, the value and why. The daemon prints it once and exits with 78 (EX_CONFIG).</summary>
internal sealed class ConfigurationException : Exception
{
    public ConfigurationException(string source, string key, string? value, string reason)
        : base(value is null ? $"{source}: {key}: {reason}" : $"{source}: {key}: invalid value \"{value}\": {reason}")
    {
        Key = key;
        Value = value;
    }

    /// <summary>The exit status for a configuration error (sysexits.h EX_CONFIG).</summary>
    public const int ExitCode = 78;

    public string Key { get; }

    public string? Value { get; }
}
