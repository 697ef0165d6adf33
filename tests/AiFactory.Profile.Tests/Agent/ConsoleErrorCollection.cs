namespace AiFactory.Profile.Tests.Agent;

/// <summary>
/// Tests that run the offline <c>profile</c> command in this process and read what it writes to stderr: they swap
/// <see cref="Console.Error"/>, which is one for the whole process, so they run one at a time.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ConsoleErrorCollection
{
    public const string Name = "console-error";
}
